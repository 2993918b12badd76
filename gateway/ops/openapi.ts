/**
 * OpenAPI 3.1 generated from the configuration serving: every configured operation (params, `fields`,
 * bodies, canonical response schemas), the built-in routes, the signed-request security scheme and the
 * problem responses. Rebuilt for each runtime, so it follows reloads.
 */
import { readFileSync } from 'node:fs'
import type { JsonSchema } from '../../adapters/contract.js'
import { PROBLEMS } from '../errors.js'
import { projectPath } from '../paths.js'
import type { BuiltinRoute, CompiledOperation, Runtime } from '../runtime.js'
import { NOTIFICATION_SCHEMA } from '../builtins/notifications.js'
import { batchOpenApi } from '../builtins/batches.js'
import { GROUP_KEYS } from '../txlog/queries.js'

const VERSION = (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string }).version

function strip (schema: JsonSchema): JsonSchema {
  const { $schema: _s, $id: _i, ...rest } = schema
  return rest
}

const PROBLEM_SCHEMA = strip(JSON.parse(readFileSync(projectPath('schemas', 'problem.schema.json'), 'utf8')) as JsonSchema)
const STATUS_TEXT: Record<number, string> = {}
for (const [code, p] of Object.entries(PROBLEMS)) STATUS_TEXT[p.status] = STATUS_TEXT[p.status] === undefined ? code : `${STATUS_TEXT[p.status]}, ${code}`

function problemResponses (statuses: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const s of statuses) {
    out[String(s)] = {
      description: `Problem: ${STATUS_TEXT[s] ?? ''}`,
      ...(s === 429 ? { headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds until the quota window resets' } } } : {}),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    }
  }
  return out
}

const COMMON_PROBLEMS = [400, 401, 403, 404, 413, 415, 429, 500, 503]
const TXN_HEADER = { 'X-Transaction-Id': { schema: { type: 'string', format: 'uuid' }, description: 'The transaction record of this request' } }

function operationPath (op: CompiledOperation): Record<string, unknown> {
  const { spec, service, shape } = op
  const parameters: unknown[] = Object.entries(spec.params).map(([name, p]) => ({
    name,
    in: p.in,
    required: p.required,
    ...(p.description === undefined ? {} : { description: p.description }),
    schema: { type: 'string', ...(p.pattern === undefined ? {} : { pattern: p.pattern }), ...(p.enum === undefined ? {} : { enum: p.enum }) },
  }))
  if (shape.fieldsApplyTo === 'response') {
    parameters.push({
      name: 'fields',
      in: 'query',
      required: false,
      description: `Comma-separated canonical fields to return (default: every granted field). One of: ${shape.fields.join(', ')}`,
      schema: { type: 'string', pattern: `^(${shape.fields.join('|')})(,(${shape.fields.join('|')}))*$` },
    })
  }
  const notes = [
    service.personalData ? 'Personal data: the token needs a `purpose` claim granted for this operation.' : 'No personal data: `purpose` is optional.',
    shape.fieldsApplyTo === 'claims' ? 'The grant lists the fields an agency may claim; the reply discloses booleans only.' : 'The reply holds the caller\'s granted fields only.',
    spec.cache.ttlSeconds > 0 ? `Records are reused for ${spec.cache.ttlSeconds} s (meta.source).` : 'Records are not reused.',
  ]
  return {
    operationId: `${service.service}.${spec.id}`,
    tags: [service.service],
    summary: spec.summary ?? `${service.title}: ${spec.id}`,
    description: notes.join(' '),
    parameters,
    ...(shape.body === undefined ? {} : { requestBody: { required: true, content: { 'application/json': { schema: strip(shape.body) } } } }),
    responses: {
      200: {
        description: 'The record (granted fields only)',
        headers: TXN_HEADER,
        content: { 'application/json': { schema: { type: 'object', required: ['data', 'meta'], properties: { data: strip(shape.data), meta: { $ref: '#/components/schemas/Meta' } } } } },
      },
      ...problemResponses([...COMMON_PROBLEMS, 502, 504]),
    },
    'x-ndx-personal-data': service.personalData,
  }
}

function builtinPath (route: BuiltinRoute): Record<string, unknown> {
  const query = (names: string[]): unknown[] => names.map((name) => ({ name, in: 'query', required: false, schema: { type: name === 'limit' ? 'integer' : 'string' } }))
  const filters = ['from', 'to', 'client', 'service', 'operation', 'outcome', 'source', 'subject']
  const base = { operationId: route.name, tags: [route.service], responses: problemResponses(COMMON_PROBLEMS) as Record<string, unknown> }
  const ok = (description: string, schema: JsonSchema = { type: 'object' }, status = 200): Record<string, unknown> => ({ [String(status)]: { description, headers: TXN_HEADER, content: { 'application/json': { schema } } } })
  if (route.service === 'batches') return { ...base, ...batchOpenApi(route, TXN_HEADER), responses: { ...batchOpenApi(route, TXN_HEADER).responses as object, ...base.responses } }
  switch (route.name) {
    case 'notify':
      return { ...base, summary: 'A source agency reports a changed subject; kept records of it are dropped', requestBody: { required: true, content: { 'application/json': { schema: NOTIFICATION_SCHEMA } } }, responses: { ...ok('Records invalidated', { type: 'object', properties: { invalidated: { type: 'integer' } } }, 202), ...base.responses } }
    case 'audit.transactions':
      return { ...base, summary: 'Transaction records, oldest first (auditors: all; others: their own)', parameters: query([...filters, 'limit', 'cursor']), responses: { ...ok('A page of records'), ...base.responses } }
    case 'audit.transaction':
      return { ...base, summary: 'One transaction record', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }], responses: { ...ok('The record'), ...base.responses } }
    case 'audit.counts':
      return { ...base, summary: 'Counts of transactions, grouped', parameters: [...query(filters), { name: 'groupBy', in: 'query', required: false, schema: { type: 'string' }, description: `Comma-separated: ${GROUP_KEYS.join(', ')}` }], responses: { ...ok('Counts'), ...base.responses } }
    case 'audit.integrity':
      return { ...base, summary: 'Recompute the hash chain (auditors)', parameters: query(['from', 'to']), responses: { ...ok('The verdict'), ...base.responses } }
    case 'audit.checkpoints':
      return { ...base, summary: 'Signed checkpoints and the gateway\'s public key (auditors)', parameters: query(['from', 'to']), responses: { ...ok('Checkpoints'), ...base.responses } }
    default:
      return { ...base, summary: 'Reload the configuration directory (admins)', responses: { ...ok('Applied'), ...base.responses } }
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
      description: 'Signed, purpose-bound lookups in government registries. Every /v1 request carries a compact JWS signed by the calling agency (CONTRACT §3); every request is recorded in the transaction log.',
    },
    servers: [{ url: '/' }],
    tags: [...services.map((s) => ({ name: s.service, description: s.description ?? s.title })), { name: 'notifications' }, { name: 'audit' }, { name: 'admin' }],
    security: [{ ndxSignedRequest: [] }],
    paths,
    components: {
      securitySchemes: {
        ndxSignedRequest: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWS',
          description: 'Header {alg: ES256|ES384|EdDSA|PS256|RS256, kid, typ: "ndx+jwt"}; claims iss, aud (gateway id), iat, jti (once), htm, htu, bsh (SHA-256 of the body), purpose, optional exp and sub.',
        },
      },
      schemas: {
        Problem: PROBLEM_SCHEMA,
        Meta: {
          type: 'object',
          required: ['transactionId', 'service', 'operation', 'source', 'retrievedAt', 'stale'],
          properties: {
            transactionId: { type: 'string' },
            service: { type: 'string' },
            operation: { type: 'string' },
            source: { enum: ['upstream', 'reuse'] },
            retrievedAt: { type: 'string', format: 'date-time' },
            stale: { type: 'boolean' },
          },
        },
      },
    },
  }
}
