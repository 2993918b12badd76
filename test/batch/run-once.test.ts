/**
 * An item runs once whatever dies when: each crash window of run-item.ts is made to happen (a sink or a
 * store that fails right there, as a killed process would stop), then the item is run again the way a
 * restarted worker would. Real Redis for the batch, real PostgreSQL for the log (which keeps one record
 * per id), no reuse (so every registry call shows).
 */
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { ItemRunner, type ItemRunnerDeps } from '../../gateway/batch/run-item.js'
import { BatchStore } from '../../gateway/batch/store.js'
import type { ResultLine } from '../../gateway/batch/items.js'
import { loadConfig } from '../../gateway/config/load-config.js'
import { Pseudonymizer } from '../../core/pseudonym.js'
import { RecordCipher } from '../../gateway/reuse/cipher.js'
import { MemoryQuota } from '../../gateway/access/quota.js'
import { reuseReader } from '../../gateway/services.js'
import { MemoryRecordStore } from '../../gateway/reuse/store.js'
import { Runtime } from '../../gateway/runtime/runtime.js'
import type { TransactionRecord } from '../../gateway/txlog/record.js'
import type { TransactionSink } from '../../gateway/txlog/sink.js'
import { DirectSink } from '../../gateway/txlog/sinks.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { sharedSimulators } from '../helpers/gateway.js'
import { logDatabase } from '../helpers/postgres.js'
import { testRedis } from '../helpers/redis.js'
import { CHECKPOINT_ENV } from '../helpers/txlog.js'
import { batchConfigDir, verifyItems } from './helpers.js'

async function setup (t: Test) {
  const sims = await sharedSimulators(t)
  const { redis, prefix } = await testRedis(t)
  const config = await loadConfig(await batchConfigDir(t, prefix), { ...sims.env, ...CHECKPOINT_ENV })
  const runtime = new Runtime(config, { builtins: [] })
  t.teardown(() => runtime.close())
  const sql = await logDatabase(t, 'postgres')
  const sink = new DirectSink(new LogWriter(sql), config.gateway.log)
  t.teardown(() => sink.close())
  const store = new BatchStore(redis, prefix, new RecordCipher(config.gateway.secrets.cacheKeys), 1)
  const pseudonymizer = new Pseudonymizer(config.gateway.secrets.pseudonymKey)
  const reader = reuseReader(config, new MemoryRecordStore(), { pseudonymizer })
  const deps: ItemRunnerDeps = {
    store,
    current: () => runtime,
    operation: { access: { quota: new MemoryQuota(), pseudonymizer }, fetch: { records: reader } },
    sink,
    pseudonymizer,
  }
  const items = await verifyItems(3, 200)
  const batchId = randomUUID()
  await store.create(
    batchId,
    {
      client: 'VN.VIETTEL',
      keyId: 'viettel-2026-01',
      service: 'population',
      operation: 'verify',
      purpose: 'subscriber-verification',
      onBehalfOf: null,
      total: items.length,
      window: 2,
      createdAt: new Date().toISOString(),
    },
    items
  )
  const records = async (): Promise<Array<{ id: string }>> =>
    sql.query<{ id: string }>("SELECT id::text AS id FROM ndx_tx WHERE service = 'population'")
  const lines = async (): Promise<ResultLine[]> => {
    const out: ResultLine[] = []
    for await (const l of store.results(batchId, items.length)) out.push(l)
    return out
  }
  return { sims, store, deps, sink, items, batchId, records, lines, redis, prefix }
}

/** A sink that fails its first append: the process "died" between staging the result and keeping the record. */
function failingOnce (sink: TransactionSink): TransactionSink {
  let failed = false
  return {
    async append (r: TransactionRecord) {
      if (!failed) {
        failed = true
        throw new Error('killed')
      }
      return sink.append(r)
    },
    get backlog () { return sink.backlog },
    close: () => sink.close(),
  }
}

t.test('killed after the result was staged: no second registry call, one record', async (t) => {
  const s = await setup(t)
  const id = s.items[0]?.params.personalId as string
  const before = s.sims.population.lookupCount(id)
  await t.rejects(new ItemRunner({ ...s.deps, sink: failingOnce(s.sink) }).run(s.batchId, 0), /killed/)
  t.equal(s.sims.population.lookupCount(id) - before, 1)
  t.equal(await new ItemRunner(s.deps).run(s.batchId, 0), 'replayed')
  t.equal(s.sims.population.lookupCount(id) - before, 1, 'the registry was not asked again')
  const [line] = await s.lines()
  t.match(line, { index: 0, status: 200, data: { match: true } })
  await s.sink.close()
  t.same((await s.records()).map((r) => r.id), [line?.transactionId], 'one record, the one the result names')
})

t.test('killed after the record was kept, before the result was written: still one record, one result', async (t) => {
  const s = await setup(t)
  class DyingStore extends BatchStore {
    dead = false
    override async promote (id: string, line: ResultLine, token?: string): Promise<boolean> {
      if (!this.dead) { this.dead = true; throw new Error('killed') }
      return super.promote(id, line, token)
    }
  }
  const dying = Object.setPrototypeOf(s.store, DyingStore.prototype) as DyingStore
  await t.rejects(new ItemRunner({ ...s.deps, store: dying }).run(s.batchId, 1), /killed/)
  // No close here: append resolved once the record was kept, and a closed sink refuses the replay's append.
  t.equal((await s.records()).length, 1, 'the record was kept before the crash')
  t.equal(await new ItemRunner({ ...s.deps, store: dying }).run(s.batchId, 1), 'replayed')
  await s.sink.close()
  const lines = await s.lines()
  t.equal(lines.length, 1)
  t.same((await s.records()).map((r) => r.id), [lines[0]?.transactionId], 'the replayed record was not written twice')
  t.match(await s.store.status(s.batchId), { done: 1, failed: 0 }, 'counted once')
})

t.test('two workers on one item at once: one runs it, the other skips it', async (t) => {
  const s = await setup(t)
  const id = s.items[2]?.params.personalId as string
  const before = s.sims.population.lookupCount(id)
  const runners = [new ItemRunner(s.deps), new ItemRunner(s.deps)]
  const outcomes = await Promise.all(runners.map((r) => r.run(s.batchId, 2)))
  t.same(outcomes.sort(), ['ran', 'skipped'])
  t.equal(s.sims.population.lookupCount(id) - before, 1)
  t.equal(await new ItemRunner(s.deps).run(s.batchId, 2), 'skipped', 'and a later rerun too')
  await s.sink.close()
  t.equal((await s.records()).length, 1)
})

t.test('results and items are sealed in Redis and expire', async (t) => {
  const s = await setup(t)
  await new ItemRunner(s.deps).run(s.batchId, 0)
  const { redis } = s
  const keys = await redis.keys(`${s.prefix}batch:${s.batchId}*`)
  t.ok(keys.length >= 3)
  const name = s.items[1]?.body.fullName as string
  for (const key of keys) {
    const type = await redis.type(key)
    const values = type === 'hash' ? Object.values(await redis.hgetall(key)) : [await redis.get(key) ?? '']
    for (const v of values) {
      t.notOk(
        v.includes(s.items[1]?.params.personalId as string) || v.includes(name),
        `${key} holds no personal value in clear`
      )
    }
    const ttl = await redis.ttl(key)
    t.ok(ttl > 0 && ttl <= 3600, `${key} expires (ttl ${ttl}s)`)
  }
  t.equal(await new ItemRunner(s.deps).run(s.batchId, 1), 'ran')
  await s.store.cancel(s.batchId)
  t.equal(await new ItemRunner(s.deps).run(s.batchId, 2), 'closed', 'a cancelled batch runs nothing more')
})
