/**
 * /openapi.json is a valid OpenAPI 3.1 document of every configured operation; /docs browses it.
 */
import t, { type Test } from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { Validator } from '@seriousme/openapi-schema-validator'
import { loadConfig } from '../../gateway/config/load-config.js'
import { buildTestGateway, copyConfig, json, sharedSimulators, signedInject } from '../helpers/gateway.js'
import { logGateway } from '../helpers/txlog.js'

type Doc = {
  paths: Record<string, Record<string, Record<string, unknown>>>
  components: Record<string, Record<string, unknown>>
}

async function validDocument (t: Test, doc: unknown): Promise<void> {
  const result = await new Validator().validate(doc as never)
  t.same(result.errors, undefined, 'no validation errors')
  t.equal(result.valid, true, 'a valid OpenAPI 3.1 document (checked by @seriousme/openapi-schema-validator)')
}

t.test('the OpenAPI document validates and describes the configuration', async (t) => {
  const { app } = await buildTestGateway(t)
  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  const doc = json(res) as {
    openapi: string
    paths: Record<string, Record<string, Record<string, unknown>>>
    components: { securitySchemes: Record<string, unknown> }
  }
  await validDocument(t, doc)
  t.equal(doc.openapi, '3.1.0')
  t.same(Object.keys(doc.paths).sort(), [
    '/v1/admin/instances', '/v1/admin/purge', '/v1/admin/reload',
    '/v1/audit/checkpoints', '/v1/audit/counts', '/v1/audit/export', '/v1/audit/integrity', '/v1/audit/keys',
    '/v1/audit/transactions', '/v1/audit/transactions/{id}',
    '/v1/batches', '/v1/batches/{batchId}', '/v1/batches/{batchId}/results',
    '/v1/business-registry/enterprises/{enterpriseCode}',
    '/v1/civil-status/persons/{personalId}/events', '/v1/civil-status/persons/{personalId}/marital-status',
    '/v1/notifications',
    '/v1/population/citizens/{personalId}', '/v1/population/citizens/{personalId}/verify',
  ])
  const citizen = doc.paths['/v1/population/citizens/{personalId}']?.get as Record<string, unknown>
  t.match(citizen, {
    operationId: 'population.citizen',
    parameters: [
      { name: 'personalId', in: 'path', required: true, schema: { pattern: '^[0-9]{12}$' } },
      { name: 'fields', in: 'query' },
    ],
    responses: {
      200: {
        content: {
          'application/json': { schema: { properties: { data: { properties: { fullName: {}, spouse: {} } } } } },
        },
      },
      401: {},
      403: {},
      502: {},
      504: {},
    },
    'x-ndx-personal-data': true,
  })
  t.match(doc.paths['/v1/population/citizens/{personalId}/verify']?.post, {
    requestBody: { content: { 'application/json': { schema: { additionalProperties: false } } } },
  })
  t.match(doc.components.securitySchemes, { ndxSignedRequest: { type: 'http', scheme: 'bearer', bearerFormat: 'JWS' } })
  t.equal(res.headers['cache-control'], 'no-cache')
})

t.test('/docs serves a browsable page and its assets, nothing else', async (t) => {
  const { app } = await buildTestGateway(t)
  const page = await app.inject({ url: '/docs' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.headers['content-security-policy'], /script-src 'self'/)
  t.match(page.body, /swagger-ui-bundle\.js/)
  t.match((await app.inject({ url: '/docs/init.js' })).body, /openapi\.json/)
  const bundle = await app.inject({ url: '/docs/swagger-ui-bundle.js' })
  t.equal(bundle.statusCode, 200)
  t.ok(bundle.body.length > 100_000)
  t.equal((await app.inject({ url: '/docs/..%2Fpackage.json' })).statusCode, 404)
  t.equal((await app.inject({ url: '/docs/index.html' })).statusCode, 404)
})

const LAND = `service: land-registry
title: National Land Registry
description: Parcels and who holds them.
upstream: { baseUrl: "http://127.0.0.1:4199" }
operations:
  parcel:
    method: GET
    path: /parcels/{parcelId}
    params:
      parcelId: { type: string, pattern: "^[0-9]{10}$", description: 10-digit parcel number }
      year: { type: integer, description: The survey year }
      detailed: { type: boolean }
    subject: parcelId
    request: { method: GET, path: "/api/thua-dat/{parcelId}" }
    response:
      parcelId: { from: /maThua, description: The parcel number }
      areaM2: { from: /dienTich, type: number, description: Area in square metres }
      landUse:
        { from: /mucDich, type: map, values: { ODT: urban-residential }, description: What the land may be used for }
`

t.test('parameters keep their declared types; the adapter title and field descriptions are kept', async (t) => {
  const dir = await copyConfig(t)
  await writeFile(join(dir, 'adapters', 'land-registry.yaml'), LAND)
  const sims = await sharedSimulators(t)
  const { app } = await buildTestGateway(t, { config: await loadConfig(dir, sims.env) })
  const doc = json(await app.inject({ url: '/openapi.json' })) as unknown as Doc & { tags: unknown[] }
  await validDocument(t, doc)
  const parcel = doc.paths['/v1/land-registry/parcels/{parcelId}']?.get as Record<string, unknown>
  t.match(parcel.parameters, [
    {
      name: 'parcelId',
      in: 'path',
      schema: { type: 'string', pattern: '^[0-9]{10}$' },
      description: '10-digit parcel number',
    },
    { name: 'year', in: 'query', required: false, schema: { type: 'integer' }, description: 'The survey year' },
    { name: 'detailed', in: 'query', schema: { type: 'boolean' } },
    { name: 'fields', in: 'query' },
  ])
  t.match(parcel, { 'x-ndx-service-title': 'National Land Registry', summary: 'National Land Registry: parcel' })
  t.match(
    (doc.tags as Array<{ name: string }>).find((tag) => tag.name === 'land-registry'),
    { 'x-displayName': 'National Land Registry', description: 'National Land Registry. Parcels and who holds them.' }
  )
  t.match(
    (parcel.responses as Record<string, any>)[200].content['application/json'].schema.properties.data.properties,
    {
      parcelId: { description: 'The parcel number' },
      areaM2: { type: ['number', 'null'], description: 'Area in square metres' },
      landUse: { description: 'What the land may be used for' },
    }
  )
})

t.test('every reply of every /v1 operation documents X-Transaction-Id, problems included', async (t) => {
  const { app } = await buildTestGateway(t)
  const doc = json(await app.inject({ url: '/openapi.json' })) as unknown as Doc
  t.match(doc.components.headers, { 'X-Transaction-Id': { schema: { type: 'string', format: 'uuid' } } })
  let replies = 0
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      for (const [status, reply] of Object.entries(
        op.responses as Record<string, { headers?: Record<string, unknown> }>
      )) {
        replies++
        if (reply.headers?.['X-Transaction-Id'] === undefined) {
          t.fail(`${method.toUpperCase()} ${path} ${status} has no X-Transaction-Id`)
        }
      }
    }
  }
  t.ok(replies > 100, `${replies} replies checked`)
  const real = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/030075654294', {
    purpose: 'public-service',
  })
  t.match(real.headers['x-transaction-id'], /^[0-9a-f-]{36}$/, 'and the gateway sends it')
})

t.test('audit and admin replies are described by real schemas that the real replies match', async (t) => {
  const { app } = await logGateway(t, { database: 'pglite' })
  const doc = json(await app.inject({ url: '/openapi.json' })) as unknown as Doc
  await validDocument(t, doc)
  const ajv = new Ajv({ strict: false })
  ;(addFormats as unknown as (a: Ajv) => void)(ajv)
  const schemaOf = (path: string, method: string, status = '200'): Record<string, unknown> =>
    (doc.paths[path]?.[method]?.responses as Record<string, any>)[status].content['application/json']
      .schema as Record<string, unknown>
  for (const path of [
    '/v1/audit/transactions',
    '/v1/audit/counts',
    '/v1/audit/integrity',
    '/v1/audit/checkpoints',
    '/v1/audit/transactions/{id}',
  ]) {
    t.not(JSON.stringify(schemaOf(path, 'get')), '{"type":"object"}', `${path} has a real schema`)
  }
  t.match(schemaOf('/v1/admin/reload', 'post'), {
    required: ['applied', 'digest', 'agencies', 'services', 'operations', 'restartRequired'],
  })
  t.match(doc.paths['/v1/audit/transactions']?.get?.parameters, [{ name: 'from', schema: { format: 'date-time' } }])
  t.ok(
    (doc.paths['/v1/audit/transactions']?.get?.parameters as Array<{ name: string; schema: { type?: string } }>).some(
      (p) => p.name === 'limit' && p.schema.type === 'integer'
    ),
    'limit is an integer'
  )

  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/030075654294', { purpose: 'public-service' })
  const page = json(await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/transactions'))
  t.ok((page.items as unknown[]).length > 0)
  const checks: Array<[string, unknown]> = [
    ['/v1/audit/transactions', page],
    [
      '/v1/audit/transactions/{id}',
      json(
        await signedInject(
          app,
          'VN.TTCP',
          'GET',
          `/v1/audit/transactions/${(page.items as Array<{ id: string }>)[0]?.id ?? ''}`
        )
      ),
    ],
    ['/v1/audit/counts', json(await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/counts?groupBy=client,outcome'))],
    ['/v1/audit/integrity', json(await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/integrity'))],
    ['/v1/audit/checkpoints', json(await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/checkpoints'))],
  ]
  for (const [path, body] of checks) {
    const validate = ajv.compile(schemaOf(path, 'get'))
    t.ok(validate(body), `the real ${path} reply matches its documented schema`) ||
      t.comment(JSON.stringify(validate.errors))
  }
})
