/**
 * Pace and fairness (CONTRACT §10): batch items reach a registry no faster than its
 * `upstream.maxRequestsPerSecond`, across every worker sharing the Redis; single calls are not held behind
 * a batch; and a large batch of one agency does not keep a small batch of another waiting.
 */
import t from 'tap'
import { createBatchService } from '../../gateway/batch/service.js'
import { MemoryQuota } from '../../gateway/access/quota.js'
import { reuseReader } from '../../gateway/services.js'
import { MemoryRecordStore } from '../../gateway/reuse/store.js'
import { REDIS_URL } from '../helpers/redis.js'
import { signedInject } from '../helpers/gateway.js'
import { batchGateway, submit, VERIFY, verifyItems, waitFor } from './helpers.js'

const finished = (s: Record<string, unknown>): boolean => s.state === 'done'

t.test('two worker sets keep to one registry pace; a single call meanwhile is served at once', async (t) => {
  const rps = 10
  const gw = await batchGateway(t, { rps })
  // A second set of workers on the same Redis, as another gateway instance would run.
  const other = createBatchService(REDIS_URL, gw.config)
  const pseudonymizer = gw.app.pseudonymizer
  const current = (): ReturnType<typeof gw.app.gateway.current> => gw.app.gateway.current()
  const access = { quota: new MemoryQuota(), pseudonymizer }
  const records = reuseReader(gw.config, new MemoryRecordStore())
  other.startWorkers({ current, operation: { access, fetch: { records } }, sink: gw.sink, pseudonymizer })
  t.teardown(() => other.close())

  const items = await verifyItems(35, 300)
  const before = gw.sims.population.stats.requests
  const started = Date.now()
  const res = await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items })
  const id = res.body.batchId as string

  await waitFor(gw.app, 'VN.VIETTEL', id, (s) => (s.done as number) >= 5)
  const single = Date.now()
  const reply = await signedInject(
    gw.app,
    'VN.VIETTEL',
    'POST',
    `/v1/population/citizens/${items[0]?.params.personalId as string}/verify`,
    { purpose: 'subscriber-verification', body: { fullName: 'x' } }
  )
  t.equal(reply.statusCode, 200)
  t.ok(Date.now() - single < 1000, `a single call is not queued behind the batch (${Date.now() - single} ms)`)

  const s = await waitFor(gw.app, 'VN.VIETTEL', id, finished)
  const elapsed = (Date.now() - started) / 1000
  t.match(s, { state: 'done', done: 35 })
  t.ok(elapsed >= 35 / rps - 1.2, `35 items at ${rps}/s took ${elapsed.toFixed(1)} s`)
  t.ok(gw.sims.population.stats.requests - before <= 36, 'each item asked the registry at most once')
})

t.test('a small batch submitted after a large one finishes long before it', async (t) => {
  const gw = await batchGateway(t, { rps: 20, gatewayYaml: 'batch:\n  window: 4\n' })
  const big = await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items: await verifyItems(200, 400) })
  t.equal(big.status, 202)
  await waitFor(gw.app, 'VN.VIETTEL', big.body.batchId as string, (s) => (s.done as number) >= 4)
  const smallItems = (await verifyItems(8, 700)).map((i) => ({ params: i.params, body: { fullName: i.body.fullName } }))
  const small = await submit(
    gw.app,
    'VN.EVN.HCMC',
    { service: 'population', operation: 'verify', purpose: 'customer-verification', items: smallItems }
  )
  t.equal(small.status, 202)
  const s = await waitFor(gw.app, 'VN.EVN.HCMC', small.body.batchId as string, finished)
  t.match(s, { state: 'done', done: 8 })
  const b = await waitFor(gw.app, 'VN.VIETTEL', big.body.batchId as string, () => true)
  t.ok((b.done as number) < 80, `the large batch had run ${String(b.done)} of 200 when the small one finished`)
  await signedInject(gw.app, 'VN.VIETTEL', 'DELETE' as 'GET', `/v1/batches/${big.body.batchId as string}`)
})
