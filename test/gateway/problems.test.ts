/**
 * CONTRACT §4: every refusal is RFC 9457 problem+json with a code from the table and the transaction id;
 * bodies too large, media types, malformed JSON, unknown routes, and internal errors that reveal nothing.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import { projectPath } from '../../core/paths.js'
import { PROBLEMS } from '../../core/errors.js'
import { buildTestGateway, json, signedInject } from '../helpers/gateway.js'

const validateProblem = new Ajv({ strict: false }).compile(
  JSON.parse(readFileSync(projectPath('schemas', 'problem.schema.json'), 'utf8')) as object
)
const VERIFY = '/v1/population/citizens/030075654294/verify'

t.test('the problem table matches CONTRACT §4', async (t) => {
  const statuses = Object.fromEntries(Object.entries(PROBLEMS).map(([code, p]) => [code, p.status]))
  t.same(statuses, {
    'request.invalid': 400,
    'auth.missing': 401,
    'auth.malformed': 401,
    'auth.unknown_client': 401,
    'auth.unknown_key': 401,
    'auth.algorithm': 401,
    'auth.signature': 401,
    'auth.audience': 401,
    'auth.expired': 401,
    'auth.binding': 401,
    'auth.replayed': 401,
    'access.denied': 403,
    'access.purpose': 403,
    'access.field': 403,
    'access.role': 403,
    'route.not_found': 404,
    'record.not_found': 404,
    'route.method': 405,
    'request.too_large': 413,
    'request.media_type': 415,
    'quota.exceeded': 429,
    'upstream.bad_response': 502,
    'upstream.unavailable': 503,
    'gateway.unavailable': 503,
    'upstream.timeout': 504,
    internal: 500,
  })
})

t.test('413 request.too_large: a body over the limit, recorded', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  const res = await signedInject(app, 'VN.EVN.HCMC', 'POST', VERIFY, {
    purpose: 'customer-verification',
    body: { fullName: 'x'.repeat(70_000) },
  })
  t.equal(res.statusCode, 413)
  t.equal(json(res).code, 'request.too_large')
  t.ok(validateProblem(json(res)), 'a valid problem document')
  t.match(sink.records[0], { status: 413, code: 'request.too_large', outcome: 'rejected' })
})

t.test('415 request.media_type: an operation that takes JSON', async (t) => {
  const { app } = await buildTestGateway(t)
  const res = await signedInject(app, 'VN.EVN.HCMC', 'POST', VERIFY, {
    purpose: 'customer-verification',
    body: '<fullName>x</fullName>',
    headers: { 'content-type': 'application/xml' },
  })
  t.equal(res.statusCode, 415)
  t.equal(json(res).code, 'request.media_type')
})

t.test('400 request.invalid: broken JSON, prototype pollution, a missing body', async (t) => {
  const { app } = await buildTestGateway(t)
  for (const body of ['{"fullName": ', '{"__proto__": {"admin": true}}', '{"constructor": {"prototype": {"x": 1}}}']) {
    const res = await signedInject(app, 'VN.EVN.HCMC', 'POST', VERIFY, { purpose: 'customer-verification', body })
    t.equal(res.statusCode, 400, body)
    t.match(json(res), { code: 'request.invalid', errors: [{ in: 'body' }] })
    t.ok(validateProblem(json(res)))
  }
  const none = await signedInject(app, 'VN.EVN.HCMC', 'POST', VERIFY, {
    purpose: 'customer-verification',
    headers: { 'content-type': 'application/json' },
  })
  t.equal(json(none).code, 'request.invalid')
  t.equal(({} as Record<string, unknown>).admin, undefined, 'nothing was polluted')
})

t.test(
  '404 route.not_found: unknown paths (405 for a served path with another method), after verification',
  async (t) => {
    const { app, sink } = await buildTestGateway(t)
    const unknown = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/people/030075654294', {
      purpose: 'public-service',
    })
    t.equal(unknown.statusCode, 404)
    t.equal(json(unknown).code, 'route.not_found')
    const method = await signedInject(app, 'VN.LOC.DNG', 'POST', '/v1/population/citizens/030075654294', {
      purpose: 'public-service',
      body: {},
    })
    t.equal(
      json(method).code,
      'route.method',
      'a served path with another method is 405 (test/gateway/route-method.test.ts)'
    )
    const traversal = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/..%2F..%2Fadmin', {
      purpose: 'public-service',
    })
    t.match(
      json(traversal),
      { code: 'request.invalid', errors: [{ name: 'personalId' }] },
      'an encoded traversal is a param that fails its pattern'
    )
    const anonymous = await app.inject({ method: 'GET', url: '/v1/secret-service/things' })
    t.equal(json(anonymous).code, 'auth.missing', 'without a token nothing about routes is revealed')
    t.match(
      sink.records.map((r) => [r.route, r.code]),
      [
        [null, 'route.not_found'],
        [null, 'route.method'],
        ['/v1/population/citizens/{personalId}', 'request.invalid'],
        [null, 'auth.missing'],
      ]
    )
    const outside = await app.inject({ method: 'GET', url: '/nothing' })
    t.equal(outside.statusCode, 404)
    t.match(json(outside), { code: 'route.not_found', transactionId: null })
    t.equal(sink.records.length, 4, 'only /v1 requests are transactions')
  }
)

t.test('500 internal: nothing of the failure reaches the client', async (t) => {
  const { app, sink } = await buildTestGateway(t, {
    parts: {
      records: {
        read: async () => {
          throw new Error('db password is hunter2 at /srv/secret')
        },
        invalidate: async () => 0,
        close: async () => {},
      },
    },
  })
  const res = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/030075654294', {
    purpose: 'public-service',
  })
  t.equal(res.statusCode, 500)
  t.match(json(res), { code: 'internal', detail: 'The gateway failed to serve this request' })
  t.notMatch(res.body, /hunter2|secret|stack/)
  t.ok(validateProblem(json(res)))
  t.match(sink.records, [{ outcome: 'error', status: 500, code: 'internal' }])
})

t.test('every reply carries X-Transaction-Id, the same id as its body and record', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  const ok = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
  const bad = await app.inject({
    method: 'GET',
    url: '/v1/business-registry/enterprises/2627349851',
    headers: { authorization: 'Bearer x.y.z' },
  })
  t.match(ok.headers['x-transaction-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.equal((json(ok).meta as Record<string, unknown>).transactionId, ok.headers['x-transaction-id'])
  t.equal(json(bad).transactionId, bad.headers['x-transaction-id'])
  t.same(sink.records.map((r) => r.id), [ok.headers['x-transaction-id'], bad.headers['x-transaction-id']])
})

t.test('a failing transaction sink withholds the reply: nothing is served unrecorded', async (t) => {
  const refusing = { append: async () => { throw new Error('disk full') }, backlog: 0, close: async () => {} }
  const { app } = await buildTestGateway(t, { parts: { sink: refusing } })
  const res = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/030075654294', {
    purpose: 'public-service',
  })
  t.equal(res.statusCode, 503)
  t.equal(json(res).code, 'gateway.unavailable')
  t.notMatch(res.body, /Dương/, 'the record\'s data did not leave')
})
