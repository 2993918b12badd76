/**
 * Spool files are claimed by lease, never by PID or hostname: a previous container's files (same PID,
 * same or another hostname) are replayed exactly once however many processes share the directory; a live
 * writer's file is left alone; a claimer that dies mid-replay loses nothing.
 */
import t from 'tap'
import { mkdir, readdir, rename, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Spool } from '../../gateway/txlog/spool.js'
import type { TransactionRecord } from '../../gateway/txlog/record.js'
import { record } from '../helpers/records.js'
import { tempDir } from '../helpers/txlog.js'

const ndjson = (records: TransactionRecord[]): string => records.map((r) => JSON.stringify(r)).join('\n') + '\n'
const longAgo = new Date(Date.now() - 3600_000)

/** Spool files as a previous container left them: old names (host-pid-time), untouched for an hour. */
async function previousContainer (dataDir: string): Promise<string[]> {
  const dir = join(dataDir, 'spool')
  await mkdir(dir, { recursive: true })
  const files = {
    // Same PID (PID 1 again in a container) and the same hostname: the old code thought its writer alive.
    [`${hostname()}-${process.pid}-1700000000000.ndjson`]: Array.from({ length: 40 }, () => record()),
    // Same PID, another hostname (a new pod): the old code never looked at it.
    [`old-pod-7f9c-${process.pid}-1700000000001.ndjson`]: Array.from({ length: 25 }, () => record()),
    // A replay that was under way when the container died.
    [`old-pod-7f9c-${process.pid}-1700000000002.1700000000003.replaying`]: Array.from({ length: 10 }, () => record()),
  }
  for (const [name, records] of Object.entries(files)) {
    await writeFile(join(dir, name), ndjson(records))
    await utimes(join(dir, name), longAgo, longAgo)
  }
  return Object.values(files).flat().map((r) => r.id)
}

t.test(
  "a previous container's spool files (same PID, any hostname) are replayed exactly once by three processes at once",
  async (t) => {
    const dataDir = await tempDir(t)
    const ids = await previousContainer(dataDir)
    const delivered: string[] = []
    const spools = [new Spool(dataDir), new Spool(dataDir), new Spool(dataDir)]
    const counts = await Promise.all(
      spools.map((s) =>
        s.replay(async (records) => {
          await sleep(5) // let the others run into the same files
          delivered.push(...records.map((r) => r.id))
        }, 7)
      )
    )
    t.equal(
      counts.reduce((a, b) => a + b, 0),
      ids.length,
      'every record counted once across the processes'
    )
    t.same([...delivered].sort(), [...ids].sort(), 'every record delivered, none twice')
    t.same(await readdir(join(dataDir, 'spool')), [], 'the directory is empty')
    for (const s of spools) await s.close()
  }
)

t.test("a live writer's file is left alone until its lease lapses", async (t) => {
  const dataDir = await tempDir(t)
  const writer = new Spool(dataDir, { leaseMs: 400 })
  const other = new Spool(dataDir, { leaseMs: 400 })
  const mine = [record(), record()]
  await writer.write(mine)
  const delivered: string[] = []
  const deliver = async (records: TransactionRecord[]): Promise<void> => { delivered.push(...records.map((r) => r.id)) }
  t.equal(await other.pending(), true, 'another process sees a file waiting')
  await sleep(700) // longer than the lease: the writer keeps it by touching it
  t.equal(await other.replay(deliver), 0, 'but does not take a file whose writer is alive')
  await writer.close() // the writer is gone without replaying (a crash)
  await sleep(600)
  t.equal(await other.replay(deliver), 2, 'once the lease lapsed, the file is taken')
  t.same(delivered, mine.map((r) => r.id))
  await other.close()
})

t.test('a claimer that dies mid-replay loses nothing: its claim lapses and another process finishes', async (t) => {
  const dataDir = await tempDir(t)
  const ids = await previousContainer(dataDir)
  const dying = new Spool(dataDir, { leaseMs: 300 })
  const seen: string[] = []
  await t.rejects(dying.replay(async (records) => {
    seen.push(...records.map((r) => r.id))
    throw new Error('the process dies here')
  }), /dies here/)
  await dying.close() // it holds its claims no more
  const claimed = (await readdir(join(dataDir, 'spool'))).filter((f) => f.endsWith('.replaying'))
  t.equal(claimed.length, 3, 'it had claimed every file')
  const survivor = new Spool(dataDir, { leaseMs: 300 })
  t.equal(await survivor.replay(async () => {}), 0, 'a fresh claim is respected')
  await sleep(500)
  const delivered: string[] = []
  t.equal(await survivor.replay(async (records) => { delivered.push(...records.map((r) => r.id)) }), ids.length)
  t.same([...delivered].sort(), [...ids].sort(), 'every record delivered by the survivor')
  await survivor.close()
})

t.test('a writer that stalled past its lease while its file was claimed writes the batch again', async (t) => {
  const dataDir = await tempDir(t)
  const writer = new Spool(dataDir, { leaseMs: 60_000 })
  await writer.write([record()])
  // Another process claimed the file meanwhile (as if the writer had stalled past its lease).
  const [file] = await readdir(join(dataDir, 'spool'))
  await rename(join(dataDir, 'spool', file as string), join(dataDir, 'spool', 'someone-else.replaying'))
  const late = record()
  await writer.write([late])
  const files = (await readdir(join(dataDir, 'spool'))).filter((f) => f.endsWith('.ndjson'))
  t.equal(files.length, 1, 'a fresh file holds the late batch')
  const delivered: string[] = []
  await writer.replay(async (records) => { delivered.push(...records.map((r) => r.id)) })
  t.ok(delivered.includes(late.id), 'the late record is delivered')
  await writer.close()
})
