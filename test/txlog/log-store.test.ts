/**
 * The transaction log's storage, on real PostgreSQL and on embedded PostgreSQL (PGlite): the same SQL,
 * the same results. Chain, idempotent batches, paging, counts (rollup + edges), integrity, checkpoints,
 * retention.
 */
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { projectPath } from '../../core/paths.js'
import { CheckpointKeys, Checkpointer, verifyCheckpoint } from '../../gateway/txlog/checkpoints.js'
import { chainHash, GENESIS } from '../../gateway/txlog/chain.js'
import { checkIntegrity } from '../../gateway/txlog/integrity.js'
import { LogReader } from '../../gateway/txlog/queries.js'
import { purge } from '../../gateway/txlog/retention.js'
import type { Sql } from '../../gateway/txlog/sql.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { logDatabase } from '../helpers/postgres.js'
import { record } from '../helpers/records.js'

const DAY = new Date('2026-11-20T00:00:00.000Z')
const at = (h: number, m = 0, s = 0) => new Date(DAY.getTime() + ((h * 60 + m) * 60 + s) * 1000)
const ALL = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z') }
const NO_KEYS = { keys: null, checkpointEverySeconds: 300 }
const checkpointer = () =>
  Checkpointer.fromFile('ndx-gateway', projectPath('demo', 'keys', 'gateway-checkpoint.private.jwk.json'))

function suite (t: Test, kind: 'postgres' | 'pglite'): void {
  let sql: Sql
  let writer: LogWriter
  let reader: LogReader
  t.before(async () => {
    sql = await logDatabase(t, kind)
    writer = new LogWriter(sql)
    reader = new LogReader(sql)
  })

  t.test('a batch is chained, and a retried batch writes nothing twice', async (t) => {
    const batch = [
      record({ at: at(9, 5) }),
      record({ at: at(9, 6), status: 404, code: 'record.not_found' }),
      record({ at: at(9, 7), client: 'VN.BHXH' }),
    ]
    t.equal(await writer.write(batch), 3)
    t.equal(await writer.write(batch), 0, 'the same records again: skipped')
    t.equal(await writer.write([...batch, batch[0]!, record({ at: at(9, 8) })]), 1, 'only the new one')
    const { items } = await reader.list(ALL, 100, null)
    t.equal(items.length, 4)
    t.equal(items[0]?.prevHash, GENESIS)
    for (let i = 1; i < items.length; i++) {
      t.equal(items[i]?.prevHash, items[i - 1]?.hash, 'each links to the one before')
    }
    t.equal(
      items[0]?.hash,
      chainHash(GENESIS, { ...batch[0]!, prevHash: undefined, hash: undefined } as never),
      'anyone can recompute a hash'
    )
    t.same(
      await reader.get(batch[1]!.id),
      { ...batch[1], seq: 2, prevHash: items[0]?.hash, hash: items[1]?.hash },
      'a record reads back exactly as written, with its place in the chain'
    )
    t.equal(await reader.get('01a20b57-6c90-7293-9daf-fc6dbf17a0ce'), null)
  })

  t.test('listing: filters, oldest first, cursor paging', async (t) => {
    const more = Array.from({ length: 25 }, (_, i) =>
      record({
        at: at(11, i),
        client: i % 5 === 0 ? 'VN.EVN.HCMC' : 'VN.LOC.DNG',
        subjectRef: i % 2 === 0 ? 'ref-even' : 'ref-odd',
      })
    )
    await writer.write(more.slice(10))
    await writer.write(more.slice(0, 10)) // written later, but older: listings follow time
    const seen: string[] = []
    let cursor: { time: string, seq: number } | null = null
    const { decodeCursor } = await import('../../gateway/txlog/queries.js')
    for (let page = 0; page < 10; page++) {
      const res = await reader.list({ from: at(11), to: at(12) }, 7, cursor)
      seen.push(...res.items.map((r) => r.id))
      if (res.nextCursor === null) break
      cursor = decodeCursor(res.nextCursor)
    }
    t.same(seen, more.map((r) => r.id), 'every record once, in time order, across pages')
    t.equal((await reader.list({ from: at(11), to: at(12), client: 'VN.EVN.HCMC' }, 100, null)).items.length, 5)
    t.equal((await reader.list({ from: at(11), to: at(12), subjectRef: 'ref-even' }, 100, null)).items.length, 13)
    t.equal(
      (await reader.list({ from: at(11), to: at(12), client: 'VN.EVN.HCMC', subjectRef: 'ref-even' }, 100, null))
        .items.length,
      3
    )
    t.equal((await reader.list({ ...ALL, outcome: 'not_found' }, 100, null)).items.length, 1)
  })

  t.test('counts: exact, grouped, from rollups for whole hours and records for the edges', async (t) => {
    const base = { from: at(9), to: at(12) }
    t.same(await reader.counts(base, []), { total: 29, groups: [] })
    t.same(await reader.counts(base, ['client']), {
      total: 29,
      groups: [
        { client: 'VN.BHXH', count: 1 },
        { client: 'VN.EVN.HCMC', count: 5 },
        { client: 'VN.LOC.DNG', count: 23 },
      ],
    })
    t.same(await reader.counts(base, ['outcome', 'hour']), {
      total: 29,
      groups: [
        { outcome: 'not_found', hour: '2026-11-20T09:00:00.000Z', count: 1 },
        { outcome: 'ok', hour: '2026-11-20T09:00:00.000Z', count: 3 },
        { outcome: 'ok', hour: '2026-11-20T11:00:00.000Z', count: 25 },
      ],
    })
    t.same(
      await reader.counts({ from: at(9, 6), to: at(11, 10) }, ['day']),
      { total: 13, groups: [{ day: '2026-11-20', count: 13 }] },
      'partial hours at both edges'
    )
    t.same(await reader.counts({ from: at(11, 3), to: at(11, 7) }, []), { total: 4, groups: [] }, 'inside one hour')
    t.same(await reader.counts({ ...base, subjectRef: 'ref-odd' }, ['client']), {
      total: 12,
      groups: [
        { client: 'VN.EVN.HCMC', count: 2 },
        { client: 'VN.LOC.DNG', count: 10 },
      ],
    })
    t.same(
      await reader.counts({ ...base, client: 'VN.LOC.DNG', outcome: 'ok' }, ['service', 'operation', 'source']),
      { total: 22, groups: [{ service: 'population', operation: 'citizen', source: 'upstream', count: 22 }] }
    )
  })

  t.test('integrity: an intact chain, an edited record, a deleted record', async (t) => {
    t.same(await checkIntegrity(sql, ALL.from, ALL.to, NO_KEYS), {
      checked: 29,
      ok: true,
      firstInvalid: null,
      problems: [],
    })
    const { items } = await reader.list({ from: at(11), to: at(12) }, 100, null)
    const victim = items[4]!
    await sql.query("UPDATE ndx_tx SET client = 'VN.SOMEONE.ELSE' WHERE id = $1", [victim.id])
    const seq = victim.seq!
    t.same(
      await checkIntegrity(sql, ALL.from, ALL.to, NO_KEYS),
      { checked: 29, ok: false, firstInvalid: victim.id, problems: [{ kind: 'edited', fromSeq: seq, toSeq: seq }] },
      'the edited record is named'
    )
    await sql.query('UPDATE ndx_tx SET client = $2 WHERE id = $1', [victim.id, victim.client])
    const gone = items[7]!.seq!
    const [next] = await sql.query<{ id: string }>('SELECT id::text AS id FROM ndx_tx WHERE seq = $1', [gone + 1])
    const [row] = await sql.query<Record<string, unknown>>('DELETE FROM ndx_tx WHERE id = $1 RETURNING *', [
      items[7]!.id,
    ])
    const result = await checkIntegrity(sql, ALL.from, ALL.to, NO_KEYS)
    t.equal(result.ok, false)
    t.equal(result.firstInvalid, next!.id, 'the record after the gap is named')
    t.same(result.problems, [{ kind: 'deleted', fromSeq: gone, toSeq: gone }])
    const cols = Object.keys(row!)
    await sql.query(
      `INSERT INTO ndx_tx (${cols.join(',')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(',')})`,
      cols.map((c) => row![c])
    )
    t.equal((await checkIntegrity(sql, ALL.from, ALL.to, NO_KEYS)).ok, true, 'restored')
  })

  t.test('signed checkpoints anchor the chain and verify offline', async (t) => {
    const cp = await checkpointer()
    const head = await cp.checkpoint(sql)
    t.ok(head !== null && head.seq === 29)
    t.equal(await cp.checkpoint(sql), null, 'no new checkpoint while the head has not moved')
    const [stored] = (await reader.checkpoints(ALL.from, new Date(Date.now() + 60_000))).items
    const payload = await verifyCheckpoint(stored!.jws, cp.publicJwk)
    t.match(payload, { iss: 'ndx-gateway', seq: 29, hash: stored!.hash })
    const sig = stored!.jws.split('.')
    const forged = `${sig[0]}.${sig[1]}.${sig[2]!.slice(0, 10)}${sig[2]![10] === 'A' ? 'B' : 'A'}${sig[2]!.slice(11)}`
    t.equal(await verifyCheckpoint(forged, cp.publicJwk), null, 'a forged signature fails')
    const otherPayload = Buffer.from(
      JSON.stringify({ iss: 'ndx-gateway', seq: 29, hash: 'f'.repeat(64), iat: 1 })
    ).toString('base64url')
    t.equal(
      await verifyCheckpoint(`${sig[0]}.${otherPayload}.${sig[2]}`, cp.publicJwk),
      null,
      'a changed payload fails'
    )
    // An attacker rewrites a record and recomputes every hash after it: the chain is consistent again,
    // but no longer matches the signed checkpoint.
    const rows = await sql.query<Record<string, unknown> & { seq: number; id: string }>(
      'SELECT * FROM ndx_tx ORDER BY seq'
    )
    const { recordOfRow } = await import('../../gateway/txlog/rows.js')
    let prev = GENESIS
    for (const r of rows) {
      const rec = recordOfRow(r as never)
      if (r.seq === 3) rec.client = 'VN.REWRITTEN'
      const hash = chainHash(prev, rec)
      await sql.query('UPDATE ndx_tx SET client = $1, prev_hash = $2, hash = $3 WHERE id = $4', [
        rec.client,
        prev,
        hash,
        r.id,
      ])
      prev = hash
    }
    const keys = await CheckpointKeys.fromFiles([], cp.publicJwk)
    const verified = await checkIntegrity(sql, ALL.from, ALL.to, { keys, checkpointEverySeconds: 300 })
    t.equal(verified.ok, false, 'the rewrite is caught by the checkpoint')
    t.same(
      verified.problems,
      [
        { kind: 'checkpoint-invalid', fromSeq: 29, toSeq: 29 },
        { kind: 'checkpoint-missing', fromSeq: 1, toSeq: 29 },
      ],
      'and nothing is under a valid checkpoint'
    )
  })

  t.test('retention drops whole days past the window', async (t) => {
    // A log of its own: retention removes only the oldest records of a chain that recomputes, and this
    // suite's log was rewritten above (and a day older than its records would not be the oldest).
    const sql = await logDatabase(t, kind)
    const writer = new LogWriter(sql)
    const reader = new LogReader(sql)
    const old = record({ at: new Date('2026-01-02T10:00:00Z') })
    await writer.write([old, record({ at: new Date('2026-02-27T10:00:00Z') })])
    const dropped = await purge(sql, writer, null, 30, new Date('2026-03-01T00:00:00Z'))
    t.same(dropped, ['ndx_tx_20260102'])
    t.equal(await reader.get(old.id), null)
    t.same(
      await reader.counts({ from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-03T00:00:00Z') }, []),
      { total: 0, groups: [] }
    )
  })
}

t.test('PostgreSQL', async (t) => suite(t, 'postgres'))
t.test('PGlite (standalone)', async (t) => suite(t, 'pglite'))
void join
