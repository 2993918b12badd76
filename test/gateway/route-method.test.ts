/**
 * CONTRACT §4 (v1.1): a served path asked with another method is `405 route.method` with `Allow`, not a 404
 * that sends the caller looking for a path that exists; the refusal is recorded like any other.
 */
import t from 'tap'
import { buildTestGateway, json, signedInject } from '../helpers/gateway.js'

t.test('a wrong method on a served path is 405 route.method with Allow, recorded', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  const res = await signedInject(app, 'VN.LOC.DNG', 'POST', '/v1/population/citizens/030075654294', {
    purpose: 'public-service',
    body: {},
  })
  t.equal(res.statusCode, 405)
  t.equal(res.headers.allow, 'GET')
  t.match(json(res), {
    code: 'route.method',
    status: 405,
    title: 'Method not allowed at this path',
    detail: 'POST is not served at this path; use GET',
  })
  t.match(res.headers['x-transaction-id'], /^[0-9a-f-]{36}$/)
  const verify = await signedInject(app, 'VN.EVN.HCMC', 'GET', '/v1/population/citizens/030075654294/verify', {
    purpose: 'customer-verification',
  })
  t.equal(verify.statusCode, 405)
  t.equal(verify.headers.allow, 'POST')
  const audit = await signedInject(app, 'VN.TTCP', 'POST', '/v1/audit/transactions', { body: {} })
  t.equal(audit.statusCode, 405, 'built-in routes too')
  t.equal(audit.headers.allow, 'GET')
  t.match(
    sink.records.map((r) => [r.status, r.code, r.outcome]),
    [
      [405, 'route.method', 'rejected'],
      [405, 'route.method', 'rejected'],
      [405, 'route.method', 'rejected'],
    ]
  )
})

t.test('a path nothing serves is still 404 route.not_found, without Allow', async (t) => {
  const { app } = await buildTestGateway(t)
  const res = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/nobody/030075654294', {
    purpose: 'public-service',
  })
  t.equal(res.statusCode, 404)
  t.equal(json(res).code, 'route.not_found')
  t.equal(res.headers.allow, undefined)
})

t.test('an unsigned request learns nothing about routes: 401 before 405', async (t) => {
  const { app } = await buildTestGateway(t)
  const res = await app.inject({ method: 'DELETE', url: '/v1/population/citizens/030075654294' })
  t.equal(res.statusCode, 401)
  t.equal(res.headers.allow, undefined)
})
