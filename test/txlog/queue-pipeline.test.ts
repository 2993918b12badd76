/**
 * The production log pipeline: group commit into a BullMQ queue, a worker writing batches to PostgreSQL.
 * Records are durable before replies leave; Redis down → records spool to disk and are replayed;
 * PostgreSQL down for a while → records wait in the queue and land when it is back.
 */
import t from 'tap'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { json, signedInject } from '../helpers/gateway.js'
import { freshDatabase } from '../helpers/postgres.js'
import { REDIS_URL, testRedis, uniquePrefix } from '../helpers/redis.js'
import { privateRedis } from '../helpers/redis-server.js'
import { tcpProxy } from '../helpers/tcp-proxy.js'
import { duplicateCount, queueGateway, waitLogged } from '../helpers/txlog.js'

async function until (check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return true
    await sleep(50)
  }
  return check()
}

t.test('records travel through the queue and are visible to auditors within 2 seconds', async (t) => {
  const { prefix } = await testRedis(t)
  const gw = await queueGateway(t, { redisUrl: REDIS_URL, prefix })
  t.equal(gw.log.mode, 'queue')
  const ids: string[] = []
  for (let i = 0; i < 20; i++) {
    const res = await signedInject(gw.app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
    ids.push(res.headers['x-transaction-id'] as string)
  }
  const started = Date.now()
  const visible = await until(
    async () =>
      (await gw.log.reader.counts({ from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 1000) }, []))
        .total >= 20,
    2000
  )
  t.ok(visible, `all 20 visible after ${Date.now() - started} ms`)
  const listed = json(
    await signedInject(gw.app, 'VN.TTCP', 'GET', '/v1/audit/transactions?service=business-registry')
  ) as { items: Array<{ id: string }> }
  t.same(listed.items.map((r) => r.id), ids)
  const stats = await gw.log.stats()
  t.equal(stats.spooled, 0)
  t.type(stats.queueDepth, 'number')
})

t.test('Redis down: records spool to local disk, replies still go out, and the spool is replayed', async (t) => {
  const server = await privateRedis(t)
  const gw = await queueGateway(t, { redisUrl: server.url, prefix: uniquePrefix() })
  const ok = await signedInject(gw.app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
  t.equal(ok.statusCode, 200)
  await server.kill()
  const during: string[] = []
  for (let i = 0; i < 10; i++) {
    const res = await signedInject(gw.app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2984421128')
    t.equal(res.statusCode, 200, 'served while Redis is down')
    during.push(res.headers['x-transaction-id'] as string)
  }
  const files = await readdir(join(gw.dataDir, 'spool'))
  t.ok(files.some((f) => f.endsWith('.ndjson')), 'a spool file holds them')
  t.equal(await gw.log.problem(), 'transaction log queue unavailable (records spooling to disk)')
  await server.start()
  t.equal(await waitLogged(gw.log.sql, during, 8000), during.length, 'every spooled record reached PostgreSQL')
  t.same(await readdir(join(gw.dataDir, 'spool')), [], 'and the spool is empty again')
  t.equal(await gw.log.problem(), null)
})

t.test('PostgreSQL down for a while: records wait in the queue and land when it is back', async (t) => {
  const { prefix } = await testRedis(t)
  const direct = await freshDatabase(t)
  const proxy = await tcpProxy(t, Number(new URL(direct).port || 5432))
  const viaProxy = new URL(direct)
  viaProxy.port = String(proxy.port)
  const gw = await queueGateway(t, { redisUrl: REDIS_URL, prefix, databaseUrl: viaProxy.toString() })
  await proxy.cut()
  const ids: string[] = []
  for (let i = 0; i < 10; i++) {
    const res = await signedInject(gw.app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
    t.equal(res.statusCode, 200, 'served: the record is durable in the queue')
    ids.push(res.headers['x-transaction-id'] as string)
  }
  t.match(await gw.log.problem(), /^transaction log database/, 'readiness shows the database is away')
  t.equal(json(await signedInject(gw.app, 'VN.TTCP', 'GET', '/v1/audit/counts')).code, 'gateway.unavailable')
  await sleep(500)
  await proxy.restore()
  t.equal(await waitLogged(gw.log.sql, ids, 10_000), ids.length, 'all ten records written once PostgreSQL is back')
  t.ok(
    await until(
      async () => (await gw.log.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM ndx_tx'))[0]?.n === 11,
      5000
    ),
    'the refused audit call is recorded too'
  )
  t.equal(await duplicateCount(gw.log.sql), 0, 'each exactly once, though batches were retried')
})
