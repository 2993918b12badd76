/**
 * OpenAPI 3.1 generated from the configuration serving: every configured operation (params, `fields`,
 * bodies, canonical response schemas), the built-in routes, the signed-request security scheme and the
 * problem responses. Rebuilt for each runtime, so it follows reloads.
 */
import { readFileSync } from 'node:fs'
import type { JsonSchema } from '../../adapters/contract.js'
import { PROBLEMS } from '../../core/errors.js'
import { projectPath } from '../../core/paths.js'
import type { BuiltinRoute, CompiledOperation, Runtime } from '../runtime/runtime.js'
import { REPLY_META_SCHEMA } from '../runtime/reply-meta.js'
import { describeBuiltin } from './builtin-paths.js'
import { batchOpenApi } from '../builtins/batches.js'

const VERSION = (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string }).version

function strip (schema: JsonSchema): JsonSchema {
  const { $schema: _s, $id: _i, ...rest } = schema
  return rest
}

const PROBLEM_SCHEMA = strip(
  JSON.parse(readFileSync(projectPath('schemas', 'problem.schema.json'), 'utf8')) as JsonSchema
)
const STATUS_TEXT: Record<number, string> = {}
for (const [code, p] of Object.entries(PROBLEMS)) {
  STATUS_TEXT[p.status] = STATUS_TEXT[p.status] === undefined ? code : `${STATUS_TEXT[p.status]}, ${code}`
}

/** Every /v1 reply, success or problem, names its transaction record. */
const TXN_HEADER = { 'X-Transaction-Id': { $ref: '#/components/headers/X-Transaction-Id' } }
const RETRY_AFTER = {
  'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait before trying again' },
}

function problemResponses (statuses: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const s of statuses) {
    out[String(s)] = {
      description: `Problem: ${STATUS_TEXT[s] ?? ''}`,
      headers: { ...TXN_HEADER, ...(s === 429 || s === 503 ? RETRY_AFTER : {}) },
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    }
  }
  return out
}

const COMMON_PROBLEMS = [400, 401, 403, 404, 413, 415, 429, 500, 503]

/** The data schema with each mapped field's `description` from the adapter file (declarative adapters). */
function describedData (op: CompiledOperation): JsonSchema {
  const data = strip(op.shape.data)
  const mappings = op.spec.response
  const properties = data.properties as Record<string, JsonSchema> | undefined
  if (mappings === undefined || properties === undefined) return data
  const described: Record<string, JsonSchema> = {}
  for (const [name, schema] of Object.entries(properties)) {
    const text = mappings[name]?.description
    described[name] = text === undefined ? schema : { ...schema, description: text }
  }
  return { ...data, properties: described }
}

function operationPath (op: CompiledOperation): Record<string, unknown> {
  const { spec, service, shape } = op
  const parameters: unknown[] = Object.entries(spec.params).map(([name, p]) => ({
    name,
    in: p.in,
    required: p.required,
    ...(p.description === undefined ? {} : { description: p.description }),
    schema: {
      type: p.type,
      ...(p.pattern === undefined ? {} : { pattern: p.pattern }),
      ...(p.enum === undefined ? {} : { enum: p.enum }),
      ...(p.minLength === undefined ? {} : { minLength: p.minLength }),
      ...(p.maxLength === undefined ? {} : { maxLength: p.maxLength }),
    },
  }))
  if (shape.fieldsApplyTo === 'response') {
    parameters.push({
      name: 'fields',
      in: 'query',
      required: false,
      description: 'Comma-separated canonical fields to return (default: every granted field). ' +
        `One of: ${shape.fields.join(', ')}`,
      schema: { type: 'string', pattern: `^(${shape.fields.join('|')})(,(${shape.fields.join('|')}))*$` },
    })
  }
  const notes = [
    service.personalData
      ? 'Personal data: the token needs a `purpose` claim granted for this operation.'
      : 'No personal data: `purpose` is optional.',
    shape.fieldsApplyTo === 'claims'
      ? 'The grant lists the fields an agency may claim; the reply discloses booleans only.'
      : "The reply holds the caller's granted fields only.",
    spec.cache.ttlSeconds > 0
      ? `Records are reused for ${spec.cache.ttlSeconds} s (meta.source).`
      : 'Records are not reused.',
  ]
  return {
    operationId: `${service.service}.${spec.id}`,
    tags: [service.service],
    summary: spec.summary ?? `${service.title}: ${spec.id}`,
    'x-ndx-service-title': service.title,
    description: notes.join(' '),
    parameters,
    ...(shape.body === undefined
      ? {}
      : { requestBody: { required: true, content: { 'application/json': { schema: strip(shape.body) } } } }),
    responses: {
      200: {
        description: 'The record (granted fields only)',
        headers: TXN_HEADER,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['data', 'meta'],
              properties: { data: describedData(op), meta: { $ref: '#/components/schemas/Meta' } },
            },
          },
        },
      },
      ...problemResponses([...COMMON_PROBLEMS, 502, 504]),
    },
    'x-ndx-personal-data': service.personalData,
  }
}

function builtinPath (route: BuiltinRoute): Record<string, unknown> {
  if (route.service === 'batches') {
    const b = batchOpenApi(route, TXN_HEADER)
    return {
      operationId: route.name,
      tags: [route.service],
      ...b,
      responses: { ...b.responses as object, ...problemResponses(COMMON_PROBLEMS) },
    }
  }
  const d = describeBuiltin(route)
  const status = d.status ?? 200
  return {
    operationId: route.name,
    tags: [route.service],
    summary: d.summary,
    ...(d.parameters === undefined ? {} : { parameters: d.parameters }),
    ...(d.body === undefined
      ? {}
      : { requestBody: { required: true, content: { 'application/json': { schema: d.body } } } }),
    responses: {
      [String(status)]: {
        description: d.summary,
        headers: TXN_HEADER,
        content: Object.fromEntries((d.mediaTypes ?? ['application/json']).map((m) => [m, { schema: d.reply }])),
      },
      ...problemResponses(COMMON_PROBLEMS),
    },
  }
}

export function openApiDocument (runtime: Runtime, builtins: readonly BuiltinRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  const add = (template: string, method: string, op: Record<string, unknown>): void => {
    paths[template] ??= {}
    ;(paths[template] as Record<string, unknown>)[method.toLowerCase()] = op
  }
  for (const op of runtime.operations.values()) add(op.spec.route, op.spec.method, operationPath(op))
  for (const route of builtins) add(`/v1${route.path}`, route.method, builtinPath(route))
  const services = Object.values(runtime.config.services)
  return {
    openapi: '3.1.0',
    info: {
      title: 'ndx-gateway',
      version: VERSION,
      description:
        'Signed, purpose-bound lookups in government registries. Every /v1 request carries a compact JWS signed ' +
        'by the calling agency (CONTRACT §3); every request is recorded in the transaction log.',
    },
    servers: [{ url: '/' }],
    tags: [
      ...services.map((s) => ({
        name: s.service,
        'x-displayName': s.title,
        description: s.description === undefined ? s.title : `${s.title}. ${s.description}`,
      })),
      { name: 'notifications' },
      { name: 'audit' },
      { name: 'admin' },
    ],
    security: [{ ndxSignedRequest: [] }],
    paths,
    components: {
      securitySchemes: {
        ndxSignedRequest: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWS',
          description:
            'Header {alg: ES256|ES384|EdDSA|PS256|RS256, kid, typ: "ndx+jwt"}; claims iss, aud (gateway id), iat, ' +
            'jti (once), htm, htu, bsh (SHA-256 of the body), purpose, optional exp and sub.',
        },
      },
      headers: {
        'X-Transaction-Id': {
          schema: { type: 'string', format: 'uuid' },
          description: 'The id of the transaction record of this request (GET /v1/audit/transactions/{id})',
        },
      },
      schemas: {
        Problem: PROBLEM_SCHEMA,
        Meta: REPLY_META_SCHEMA,
      },
    },
  }
}

/** The document of the configuration serving, made once per runtime (so it follows reloads). */
export function cachedDocument (
  current: () => Runtime,
  builtins: readonly BuiltinRoute[]
): () => Record<string, unknown> {
  let made: { runtime: Runtime; doc: Record<string, unknown> } | null = null
  return () => {
    const runtime = current()
    if (made?.runtime !== runtime) made = { runtime, doc: openApiDocument(runtime, builtins) }
    return made.doc
  }
}
