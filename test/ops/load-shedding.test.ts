/**
 * Under load and at shutdown, refusals are problem+json `503 gateway.unavailable` with Retry-After, and
 * recorded: an overloaded instance sheds /v1 requests instead of queueing them; a closing instance answers
 * problem+json (not fastify's plain JSON); a registry that cannot serve gives its 503 a Retry-After too.
 */
import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { composeGateway } from '../../gateway/compose.js'
import { standaloneServices } from '../../gateway/services.js'
import { MemorySink } from '../../gateway/txlog/sink.js'
import { signRequest } from '../../sdk/index.js'
import { demoConfig, demoSigner, json, sharedSimulators, signedInject } from '../helpers/gateway.js'

async function gateway (t: Test, shed: { maxEventLoopDelayMs?: number, maxInflight?: number, sampleMs?: number }) {
  const config = await demoConfig(t)
  const sink = new MemorySink()
  const services = standaloneServices(config, { sink })
  const app = await composeGateway({ config, services, shed })
  t.teardown(async () => { await app.close(); await services.close() })
  return { app, sink }
}

const ENTERPRISE = '/v1/business-registry/enterprises/2627349851'

function assertShed (
  t: Test,
  res: { statusCode: number; headers: Record<string, unknown>; body: string },
  retryAfter: string
): void {
  t.equal(res.statusCode, 503)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.headers['retry-after'], retryAfter, 'says when to come back')
  t.match(JSON.parse(res.body), {
    type: 'urn:ndx:problem:gateway.unavailable',
    code: 'gateway.unavailable',
    status: 503,
    transactionId: String,
  })
}

t.test('a stalled event loop sheds /v1 requests (recorded) while health checks still answer', async (t) => {
  const { app, sink } = await gateway(t, { maxEventLoopDelayMs: 200, sampleMs: 20 })
  await app.ready()
  t.equal((await signedInject(app, 'VN.LOC.DNG', 'GET', ENTERPRISE)).statusCode, 200, 'served while the loop is idle')
  const token = await signRequest(await demoSigner('VN.LOC.DNG'), { method: 'GET', target: ENTERPRISE })
  const until = Date.now() + 600
  while (Date.now() < until) { /* the CPU is saturated: nothing else runs */ }
  await sleep(1)
  const res = await app.inject({ url: ENTERPRISE, headers: { authorization: `Bearer ${token}` } })
  assertShed(t, res, '2')
  t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'liveness is never shed')
  t.match(
    sink.records.at(-1),
    { id: res.headers['x-transaction-id'], status: 503, code: 'gateway.unavailable', outcome: 'error' },
    'the refusal is recorded'
  )
  let again = 0
  for (let i = 0; i < 40 && again !== 200; i++) {
    await sleep(50)
    again = (await signedInject(app, 'VN.LOC.DNG', 'GET', ENTERPRISE)).statusCode
  }
  t.equal(again, 200, 'served again once the loop keeps up')
})

t.test('beyond the requests allowed in progress, new ones are refused at once, not queued', async (t) => {
  const sims = await sharedSimulators(t)
  const { app } = await gateway(t, { maxInflight: 2, maxEventLoopDelayMs: 0 })
  sims.businessRegistry.settings.latencyMs = 400
  t.teardown(() => { sims.businessRegistry.settings.latencyMs = 0 })
  const slow = [signedInject(app, 'VN.LOC.DNG', 'GET', ENTERPRISE), signedInject(app, 'VN.LOC.DNG', 'GET', ENTERPRISE)]
  await sleep(150)
  const started = Date.now()
  const third = await signedInject(app, 'VN.LOC.DNG', 'GET', ENTERPRISE)
  assertShed(t, third, '2')
  t.ok(Date.now() - started < 300, 'refused without waiting')
  t.same((await Promise.all(slow)).map((r) => r.statusCode), [200, 200], 'the requests in progress are served')
  sims.businessRegistry.settings.latencyMs = 0
  t.equal((await signedInject(app, 'VN.LOC.DNG', 'GET', ENTERPRISE)).statusCode, 200, 'room again once they finished')
})

t.test('a closing instance answers problem+json 503 with Retry-After, and records it', async (t) => {
  const config = await demoConfig(t)
  const sink = new MemorySink()
  const services = standaloneServices(config, { sink })
  const app = await composeGateway({ config, services })
  // Hold the close open a moment, as a real shutdown waits for requests in flight.
  app.addHook('preClose', async () => { await sleep(400) })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const token = await signRequest(await demoSigner('VN.LOC.DNG'), { method: 'GET', target: ENTERPRISE })
  const closing = app.close()
  await sleep(50)
  const res = await fetch(url + ENTERPRISE, { headers: { authorization: `Bearer ${token}` } })
  const body = await res.text()
  await closing
  await services.close()
  t.equal(res.status, 503)
  t.match(res.headers.get('content-type'), /^application\/problem\+json/, 'problem+json, not fastify\'s plain JSON')
  t.equal(res.headers.get('retry-after'), '1')
  t.match(JSON.parse(body), { code: 'gateway.unavailable', transactionId: res.headers.get('x-transaction-id') })
  t.match(sink.records.at(-1), { status: 503, code: 'gateway.unavailable' }, 'the refusal is recorded')
})

t.test('a registry that cannot serve: 503 upstream.unavailable with Retry-After', async (t) => {
  const sims = await sharedSimulators(t)
  const { app } = await gateway(t, {})
  sims.businessRegistry.settings.failRate = 1
  t.teardown(() => { sims.businessRegistry.settings.failRate = 0 })
  const res = await signedInject(app, 'VN.LOC.DNG', 'GET', ENTERPRISE)
  t.equal(res.statusCode, 503)
  t.equal(json(res).code, 'upstream.unavailable')
  t.equal(res.headers['retry-after'], '5')
})
