/**
 * A record the database refuses never holds others back (CONTRACT §7 v1.1): a batch that fails is written
 * record by record, the record that still fails is kept aside (ndx_tx_poisoned) with an error line and the
 * `ndx_txlog_poisoned_total` gauge, and a database outage is never mistaken for poison. Direct mode
 * (PostgreSQL and PGlite) and queue mode (BullMQ worker, real Redis).
 */
import t from 'tap'
import { Queue } from 'bullmq'
import { pino } from 'pino'
import { DirectSink, JOB_NAME, JOB_OPTIONS } from '../../gateway/txlog/sinks.js'
import { PgSql } from '../../gateway/txlog/sql.js'
import { QUEUE_NAME, startLogWorker } from '../../gateway/txlog/worker.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { logDatabase } from '../helpers/postgres.js'
import { record } from '../helpers/records.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { loggedCount, waitLogged } from '../helpers/txlog.js'
import { Writable } from 'node:stream'

/** A record no database column takes: its id is not a uuid. */
const poison = () => ({ ...record(), id: 'not-a-uuid-\u0000' })

for (const kind of ['postgres', 'pglite'] as const) {
  t.test(`${kind}: a refused record is kept aside and its batch is written`, async (t) => {
    const sql = await logDatabase(t, kind)
    const writer = new LogWriter(sql)
    const good = [record(), record()]
    const bad = poison()
    const result = await writer.writeIsolated([good[0]!, bad, good[1]!])
    t.equal(result.written, 2)
    t.same(result.poisoned.map((p) => p.id), [bad.id])
    t.equal(await loggedCount(sql, good.map((r) => r.id)), 2, 'the records batched with it are in the log')
    t.equal(await writer.poisonedCount(), 1)
    const [kept] = await sql.query<{ record: string }>('SELECT record FROM ndx_tx_poisoned')
    t.equal((JSON.parse(kept!.record) as { id: string }).id, bad.id, 'kept whole, NUL and all')
    t.same(
      await writer.writeIsolated([bad]),
      { written: 0, poisoned: [{ id: bad.id, error: result.poisoned[0]!.error, kept: true }] },
      'alone, it is poison too'
    )
    t.equal(await writer.poisonedCount(), 1, 'kept aside once')
  })

  t.test(`${kind}: direct mode — poison beside legitimate records never turns their replies into 503`, async (t) => {
    const sql = await logDatabase(t, kind)
    const lines: string[] = []
    const logger = pino({ level: 'error' }, new Writable({ write (c, _e, cb) { lines.push(String(c)); cb() } }))
    const { reportPoisoned } = await import('../../gateway/txlog/worker.js')
    const sink = new DirectSink(new LogWriter(sql), { batchMaxRecords: 50, batchMaxWaitMs: 5 }, (r) =>
      reportPoisoned(r, logger)
    )
    t.teardown(() => sink.close())
    const good = Array.from({ length: 30 }, () => record())
    const settled = await Promise.allSettled(
      [...good.slice(0, 15), poison(), poison(), ...good.slice(15)].map((r) => sink.append(r))
    )
    t.same(settled.filter((s) => s.status === 'rejected'), [], 'every append resolved')
    t.equal(await loggedCount(sql, good.map((r) => r.id)), 30)
    t.match(lines.join(''), /record refused by the database; kept aside/)
  })
}

t.test('a refused record that cannot be set aside fails its batch instead of being dropped', async (t) => {
  const sql = await logDatabase(t, 'postgres')
  const writer = new LogWriter(sql)
  await sql.exec('DROP TABLE ndx_tx_poisoned')
  const good = record()
  await t.rejects(
    writer.writeIsolated([good, poison()]),
    'the caller sees a failure: a reply waits (503), a job is retried'
  )
  t.equal(await loggedCount(sql, [good.id]), 1, 'the good record of the batch was still written')
})

t.test('a database outage is not poison: the batch fails whole and nothing is set aside', async (t) => {
  const sql = new PgSql('postgres://postgres@127.0.0.1:1/none')
  t.teardown(() => sql.close())
  const writer = new LogWriter(sql)
  await t.rejects(writer.writeIsolated([record(), record()]))
})

t.test(
  'queue mode: a job holding poison completes, and the records batched with it are written within 2 s',
  async (t) => {
    const { redis, prefix } = await testRedis(t)
    const sql = await logDatabase(t, 'postgres')
    const writer = new LogWriter(sql)
    const conn = redis.duplicate()
    const queue = new Queue(QUEUE_NAME, { connection: conn, prefix: `${prefix}bull` })
    t.teardown(async () => {
      await queue.close()
      conn.disconnect()
    })
    const worker = startLogWorker(REDIS_URL, `${prefix}bull`, writer)
    t.teardown(() => worker.close())
    const good = Array.from({ length: 10 }, () => record())
    await queue.add(JOB_NAME, { records: [good[0]!, poison(), ...good.slice(1, 5)] }, JOB_OPTIONS)
    await queue.add(JOB_NAME, { records: good.slice(5) }, JOB_OPTIONS)
    t.equal(
      await waitLogged(
        sql,
        good.map((r) => r.id),
        2000
      ),
      10,
      'every legitimate record written'
    )
    t.equal(await writer.poisonedCount(), 1)
    const counts = await queue.getJobCounts('failed', 'waiting', 'delayed', 'active')
    t.same(counts, { failed: 0, waiting: 0, delayed: 0, active: 0 }, 'no job left retrying')
  }
)

t.test('ndx_txlog_poisoned_total counts what was kept aside, for alerts', async (t) => {
  const { logGateway } = await import('../helpers/txlog.js')
  const gw = await logGateway(t)
  const before = await gw.app.inject({ method: 'GET', url: '/metrics' })
  t.match(before.body, /^ndx_txlog_poisoned_total 0$/m)
  await gw.log.writer.writeIsolated([record(), poison()])
  const after = await gw.app.inject({ method: 'GET', url: '/metrics' })
  t.match(after.body, /^ndx_txlog_poisoned_total 1$/m)
})
