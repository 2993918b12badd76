/**
 * Fault: a log worker takes batches and vanishes without writing them — what happens when Redis dies after
 * persisting a batch as taken but before its reply reaches the worker. Another worker must write those
 * records within the lock window plus a stall check (seconds, not BullMQ's default minute), and no batch
 * may end up parked as failed.
 */
import t, { type Test } from 'tap'
import { Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { PgSql } from '../../gateway/txlog/sql.js'
import { QUEUE_NAME, RECOVERY, startLogWorker } from '../../gateway/txlog/worker.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { signedInject } from '../helpers/gateway.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { loggedCount, queueGateway, waitLogged } from '../helpers/txlog.js'

/** Takes every waiting batch as a worker would, then never renews, completes or fails them. */
async function vanishingWorker (t: Test, prefix: string, token: string): Promise<number> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null })
  const ghost = new Worker(QUEUE_NAME, null, { connection, prefix: `${prefix}bull`, autorun: false, ...RECOVERY })
  let taken = 0
  while ((await ghost.getNextJob(token, { block: false })) !== undefined) taken++
  connection.disconnect()
  t.teardown(() => ghost.close(true).catch(() => {}))
  return taken
}

t.test('batches taken by a worker that vanished are written by another within seconds', async (t) => {
  const { prefix } = await testRedis(t)
  // No worker in the gateway: its records wait in the queue.
  const gw = await queueGateway(t, { redisUrl: REDIS_URL, prefix, worker: false })
  const ids: string[] = []
  for (let i = 0; i < 6; i++) {
    const res = await signedInject(gw.app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
    t.equal(res.statusCode, 200)
    ids.push(res.headers['x-transaction-id'] as string)
  }
  t.ok(await vanishingWorker(t, prefix, 'ghost-1') >= 1, 'the ghost took the batches')

  const sql = new PgSql(gw.databaseUrl as string)
  const worker = startLogWorker(REDIS_URL, `${prefix}bull`, new LogWriter(sql))
  t.teardown(async () => { await worker.close(); await sql.close() })
  t.equal(await loggedCount(sql, ids), 0, 'nothing written while the ghost holds them')

  const started = Date.now()
  const found = await waitLogged(sql, ids, 30_000)
  const ms = Date.now() - started
  t.equal(found, ids.length, `all ${ids.length} records written, ${ms} ms after the real worker started`)
  t.ok(ms < 20_000, 'in seconds (the lock window and a stall check), not the minute of BullMQ defaults')
  const redis = new Redis(REDIS_URL)
  t.equal(await redis.zcard(`${prefix}bull:${QUEUE_NAME}:failed`), 0, 'no batch parked as failed')
  redis.disconnect()
})
