/**
 * /openapi.json is a valid OpenAPI 3.1 document of every configured operation; /docs browses it.
 */
import t from 'tap'
import { Validator } from '@seriousme/openapi-schema-validator'
import { buildTestGateway, json } from '../helpers/gateway.js'

t.test('the OpenAPI document validates and describes the configuration', async (t) => {
  const { app } = await buildTestGateway(t)
  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  const doc = json(res) as { openapi: string, paths: Record<string, Record<string, Record<string, unknown>>>, components: { securitySchemes: Record<string, unknown> } }
  const result = await new Validator().validate(doc as never)
  t.same(result.errors, undefined, 'no validation errors')
  t.equal(result.valid, true, 'a valid OpenAPI 3.1 document')
  t.equal(doc.openapi, '3.1.0')
  t.same(Object.keys(doc.paths).sort(), [
    '/v1/admin/reload',
    '/v1/audit/checkpoints', '/v1/audit/counts', '/v1/audit/integrity', '/v1/audit/transactions', '/v1/audit/transactions/{id}',
    '/v1/batches', '/v1/batches/{batchId}', '/v1/batches/{batchId}/results',
    '/v1/business-registry/enterprises/{enterpriseCode}',
    '/v1/civil-status/persons/{personalId}/events', '/v1/civil-status/persons/{personalId}/marital-status',
    '/v1/notifications',
    '/v1/population/citizens/{personalId}', '/v1/population/citizens/{personalId}/verify',
  ])
  const citizen = doc.paths['/v1/population/citizens/{personalId}']?.get as Record<string, unknown>
  t.match(citizen, {
    operationId: 'population.citizen',
    parameters: [{ name: 'personalId', in: 'path', required: true, schema: { pattern: '^[0-9]{12}$' } }, { name: 'fields', in: 'query' }],
    responses: { 200: { content: { 'application/json': { schema: { properties: { data: { properties: { fullName: {}, spouse: {} } } } } } } }, 401: {}, 403: {}, 502: {}, 504: {} },
    'x-ndx-personal-data': true,
  })
  t.match(doc.paths['/v1/population/citizens/{personalId}/verify']?.post, { requestBody: { content: { 'application/json': { schema: { additionalProperties: false } } } } })
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
