/**
 * The transaction sink contract (gateway/txlog/sink.ts), run against every implementation: in memory; group
 * commit into PostgreSQL and into PGlite; group commit into the BullMQ queue on real Redis, and the same
 * sink while Redis is away (records spooled to disk). Each case gets fresh storage.
 */
import t, { type Test } from 'tap'
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { waitReady } from '../../gateway/process/redis.js'
import type { TransactionRecord } from '../../gateway/txlog/record.js'
import { migrate } from '../../gateway/txlog/schema.js'
import { MemorySink, type TransactionSink } from '../../gateway/txlog/sink.js'
import { DirectSink, QueueSink } from '../../gateway/txlog/sinks.js'
import { Spool } from '../../gateway/txlog/spool.js'
import { PgliteSql, PgSql, type Sql } from '../../gateway/txlog/sql.js'
import { QUEUE_NAME, startLogWorker } from '../../gateway/txlog/worker.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { freshDatabase } from '../helpers/postgres.js'
import { record } from '../helpers/records.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { tcpProxy } from '../helpers/tcp-proxy.js'
import { duplicateCount, tempDir, waitLogged } from '../helpers/txlog.js'

/** Small batches, so a few dozen records make several of them. */
const BATCH = { batchMaxRecords: 10, batchMaxWaitMs: 2 }

interface SinkUnderTest {
  readonly sink: TransactionSink
  /** The ids of the records kept right now, once per copy kept. */
  kept (): Promise<string[]>
  /** Makes the storage hang (not fail) until the function it resolves with is called. */
  hold?: () => Promise<() => Promise<void>>
  /** Makes the storage refuse; resolves with the way to bring it back, or null when it cannot come back. */
  fail?: () => Promise<(() => Promise<void>) | null>
}

type Make = (t: Test) => Promise<SinkUnderTest>

/** Why an implementation has no storage to hang or to break, when it has none. */
interface Limits { readonly hold?: string, readonly fail?: string }

/** Every append's outcome, as it settles. */
function track (sink: TransactionSink, records: readonly TransactionRecord[]) {
  const settled: Array<'kept' | 'refused'> = []
  const all = Promise.allSettled(records.map((r) => sink.append(r).then(
    () => { settled.push('kept') },
    (err: unknown) => { settled.push('refused'); throw err }
  )))
  return { settled, all }
}

function capability<T> (fn: T | undefined): T {
  if (fn === undefined) throw new Error('this implementation was not given that capability')
  return fn
}

function many (n: number): TransactionRecord[] {
  return Array.from({ length: n }, () => record())
}

function conformance (t: Test, make: Make, limits: Limits = {}): void {
  t.test('an append resolves only once its record is kept', async (t) => {
    const s = await make(t)
    t.same(await s.kept(), [], 'nothing kept before the first append')
    for (const r of many(5)) {
      await s.sink.append(r)
      t.ok((await s.kept()).includes(r.id), 'kept when append resolved')
    }
  })

  t.test('records appended concurrently are each kept exactly once', async (t) => {
    const s = await make(t)
    const records = many(120)
    await Promise.all(records.map((r) => s.sink.append(r)))
    t.same((await s.kept()).sort(), records.map((r) => r.id).sort())
  })

  t.test('close waits for every append made before it; later appends are refused and kept nowhere', async (t) => {
    const s = await make(t)
    const before = many(45)
    const { settled, all } = track(s.sink, before)
    const closing = s.sink.close()
    const late = record()
    await t.rejects(s.sink.append(late), { code: 'gateway.unavailable' }, 'refused once close was called')
    await closing
    t.equal(settled.length, before.length, 'every earlier append had settled when close resolved')
    t.ok(settled.every((o) => o === 'kept'), 'and each was kept')
    await all
    await t.rejects(s.sink.append(record()), { code: 'gateway.unavailable' }, 'refused after close')
    await t.resolves(s.sink.close(), 'closing again is harmless')
    t.same((await s.kept()).sort(), before.map((r) => r.id).sort(), 'the refused records are nowhere')
  })

  t.test('backlog never counts a settled append, and is 0 once all have settled', async (t) => {
    const s = await make(t)
    const records = many(40)
    let unsettled = records.length
    let overCounted = 0
    await Promise.all(records.map((r) => s.sink.append(r).then(() => {
      unsettled--
      if (s.sink.backlog > unsettled) overCounted++
    })))
    t.equal(overCounted, 0, 'no append saw itself (or another settled one) still counted')
    t.equal(s.sink.backlog, 0)
  })

  // A case an implementation cannot meet (memory never hangs or fails) is left out, not counted as skipped.
  if (limits.hold === undefined) {
    t.test('while the storage hangs no append resolves, and backlog counts every one, in the batch being written too',
      async (t) => {
        const s = await make(t)
        const release = await capability(s.hold)()
        const records = many(25)
        const { settled, all } = track(s.sink, records)
        await sleep(200)
        t.same(settled, [], 'nothing resolves while nothing can be kept')
        t.equal(s.sink.backlog, 25, `two batches waiting and one being written: ${BATCH.batchMaxRecords} a batch`)
        await release()
        t.ok((await all).every((o) => o.status === 'fulfilled'), 'all resolve once the storage answers')
        t.equal(s.sink.backlog, 0)
        t.same((await s.kept()).sort(), records.map((r) => r.id).sort())
      })
  }

  if (limits.hold === undefined) {
    t.test('close waits for appends held up by storage that hangs', async (t) => {
      const s = await make(t)
      const release = await capability(s.hold)()
      const records = many(3)
      const { settled, all } = track(s.sink, records)
      let closed = false
      const closing = s.sink.close().then(() => { closed = true })
      await sleep(200)
      t.equal(closed, false, 'close has not resolved while its appends wait')
      await release()
      await closing
      t.same(settled, ['kept', 'kept', 'kept'], 'they had all been kept when close resolved')
      await all
      t.same((await s.kept()).sort(), records.map((r) => r.id).sort())
    })
  }

  const failing = 'an append whose record cannot be kept rejects; once storage is back, appends are kept again'
  if (limits.fail === undefined) {
    t.test(failing, async (t) => {
      const s = await make(t)
      const restore = await capability(s.fail)()
      await t.rejects(s.sink.append(record()), 'refused while the storage refuses')
      t.equal(s.sink.backlog, 0, 'a refused append leaves the backlog')
      if (restore === null) return
      await restore()
      const after = record()
      await s.sink.append(after)
      t.ok((await s.kept()).includes(after.id), 'kept once the storage answers again')
    })
  }
}

// --- the implementations ---

const memory: Make = async () => {
  const sink = new MemorySink()
  return { sink, kept: async () => sink.records.map((r) => r.id) }
}

async function keptInLog (sql: Sql): Promise<string[]> {
  return (await sql.query<{ id: string }>('SELECT id::text AS id FROM ndx_tx ORDER BY seq')).map((r) => r.id)
}

/** Takes the chain head's lock, as another writer would, until released: the sink's batches wait for it. */
async function holdHead (sql: Sql): Promise<() => Promise<void>> {
  let release = (): void => {}
  let locked = (): void => {}
  const held = new Promise<void>((resolve) => { locked = resolve })
  const done = sql.transaction(async (tx) => {
    await tx.query('SELECT seq FROM ndx_chain_head FOR UPDATE')
    locked()
    await new Promise<void>((resolve) => { release = resolve })
  })
  await held
  return async () => { release(); await done }
}

/** DirectSink on a fresh PostgreSQL database, reached through a proxy the test can cut. */
const directPostgres: Make = async (t) => {
  const url = await freshDatabase(t)
  const direct = new PgSql(url, 2)
  t.teardown(() => direct.close())
  await migrate(direct)
  const proxy = await tcpProxy(t, Number(new URL(url).port || 5432))
  const proxied = new URL(url)
  proxied.port = String(proxy.port)
  const sql = new PgSql(proxied.toString())
  t.teardown(() => sql.close())
  const sink = new DirectSink(new LogWriter(sql), BATCH)
  t.teardown(() => sink.close())
  return {
    sink,
    kept: () => keptInLog(direct),
    hold: () => holdHead(direct),
    async fail () {
      await proxy.cut()
      return () => proxy.restore()
    },
  }
}

/** Making an embedded database takes seconds (initdb): one is migrated once, and each case gets a copy. */
let template: Promise<string> | null = null
function pgliteTemplate (): Promise<string> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ndx-pglite-template-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const sql = await PgliteSql.open(dir)
    await migrate(sql)
    await sql.close()
    return dir
  })()
  return template
}

/** DirectSink on a fresh embedded database. */
const directPglite: Make = async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ndx-pglite-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(await pgliteTemplate(), dir, { recursive: true })
  const sql = await PgliteSql.open(dir)
  let open = true
  t.teardown(async () => { if (open) await sql.close() })
  const sink = new DirectSink(new LogWriter(sql), BATCH)
  t.teardown(() => sink.close())
  return {
    sink,
    kept: () => keptInLog(sql),
    // PGlite runs one transaction at a time: one left open holds every write.
    hold: () => holdHead(sql),
    async fail () {
      open = false
      await sql.close()
      return null
    },
  }
}

/** The ids in a spool directory's files, as a restarted process would replay them. */
async function spooled (dataDir: string): Promise<string[]> {
  const dir = join(dataDir, 'spool')
  const files = await readdir(dir).catch(() => [])
  const ids: string[] = []
  for (const f of files.filter((f) => f.endsWith('.ndjson') || f.endsWith('.replaying'))) {
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n').filter(Boolean)) {
      ids.push((JSON.parse(line) as TransactionRecord).id)
    }
  }
  return ids
}

/** A file where the spool's directory would go: the disk refuses the spool. */
async function blockSpool (dataDir: string): Promise<() => Promise<void>> {
  await writeFile(join(dataDir, 'spool'), 'not a directory')
  return () => rm(join(dataDir, 'spool'))
}

interface QueueParts { readonly bullPrefix: string, readonly reader: Queue, readonly dataDir: string }

async function queueParts (t: Test): Promise<QueueParts> {
  const { prefix } = await testRedis(t)
  const bullPrefix = `${prefix}bull`
  const readerConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null })
  const reader = new Queue(QUEUE_NAME, { connection: readerConnection, prefix: bullPrefix })
  t.teardown(async () => {
    await reader.close()
    readerConnection.disconnect()
  })
  return { bullPrefix, reader, dataDir: await tempDir(t) }
}

/** What the queue holds (any state) plus what is spooled to disk: every place a QueueSink keeps a record. */
async function keptByQueue (parts: QueueParts): Promise<string[]> {
  // The spool first: a record replayed between the two reads is then counted twice, never missed.
  const onDisk = await spooled(parts.dataDir)
  const jobs = await parts.reader.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'])
  return [...onDisk, ...jobs.flatMap((j) => (j.data as { records: TransactionRecord[] }).records.map((r) => r.id))]
}

/** QueueSink on real Redis (through a proxy the test can stall or cut), built as log.ts builds it. */
async function queueSink (t: Test): Promise<SinkUnderTest & { parts: QueueParts }> {
  const parts = await queueParts(t)
  const proxy = await tcpProxy(t, Number(new URL(REDIS_URL).port || 6379))
  const target = new URL(REDIS_URL)
  target.host = `127.0.0.1:${proxy.port}`
  // As log.ts's producer, but with room for a stall longer than the 1 s it allows in production.
  const conn = new Redis(target.toString(), {
    enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 10_000,
  })
  conn.on('error', () => {})
  t.teardown(() => { conn.disconnect() })
  if (!await waitReady(conn, 2000)) throw new Error('test Redis not ready')
  const queue = new Queue(QUEUE_NAME, { connection: conn, prefix: parts.bullPrefix, skipWaitingForReady: true })
  queue.on('error', () => {})
  t.teardown(() => queue.close())
  const sink = new QueueSink(() => queue, new Spool(parts.dataDir), BATCH, { probe: () => conn.ping() })
  t.teardown(() => sink.close())
  return {
    parts,
    sink,
    kept: () => keptByQueue(parts),
    async hold () {
      proxy.stall()
      return async () => proxy.resume()
    },
    async fail () {
      await proxy.cut()
      const unblock = await blockSpool(parts.dataDir)
      return async () => {
        await unblock()
        await proxy.restore()
      }
    },
  }
}

/** QueueSink whose queue never connected (Redis away since start): every batch goes to the spool. */
const spooling: Make = async (t) => {
  const parts = await queueParts(t)
  const sink = new QueueSink(() => null, new Spool(parts.dataDir), BATCH, {
    probe: () => Promise.reject(new Error('Redis away')),
  })
  t.teardown(() => sink.close())
  return {
    sink,
    kept: () => keptByQueue(parts),
    fail: () => blockSpool(parts.dataDir),
  }
}

t.test('MemorySink', async (t) => conformance(t, memory, {
  hold: 'its storage is this process\'s memory: nothing to hang',
  fail: 'its storage is this process\'s memory: nothing to break',
}))
t.test('DirectSink on PostgreSQL', async (t) => conformance(t, directPostgres))
t.test('DirectSink on PGlite', async (t) => conformance(t, directPglite))
t.test('QueueSink on Redis', async (t) => {
  conformance(t, queueSink)

  t.test('what the queue holds reaches the log exactly once', async (t) => {
    const s = await queueSink(t)
    const records = many(40)
    await Promise.all(records.map((r) => s.sink.append(r)))
    const sql = new PgSql(await freshDatabase(t), 2)
    t.teardown(() => sql.close())
    await migrate(sql)
    const worker = startLogWorker(REDIS_URL, s.parts.bullPrefix, new LogWriter(sql))
    t.teardown(() => worker.close())
    const ids = records.map((r) => r.id)
    t.equal(await waitLogged(sql, ids, 10_000), ids.length)
    t.equal(await duplicateCount(sql), 0)
  })
})
t.test('QueueSink while Redis is away (spooling to disk)', async (t) => conformance(t, spooling, {
  hold: 'a local disk cannot be made to hang here',
}))
