/**
 * An operator with write access to PostgreSQL tries to have retention remove recent records under a signed
 * trace (red-team review, CONTRACT §7 v1.1): records moved into an old partition by editing their time.
 * Retention removes only a prefix of the chain that recomputes, so it refuses; a signed trace in the middle
 * of live records accounts for nothing; and purges of the oldest days, one after another, raise no alarm.
 * Real PostgreSQL.
 */
import t, { type Test } from 'tap'
import { projectPath } from '../../core/paths.js'
import { TamperSuspected, tamperSuspected } from '../../gateway/txlog/chain-verify.js'
import { CheckpointKeys, Checkpointer } from '../../gateway/txlog/checkpoints.js'
import { checkIntegrity } from '../../gateway/txlog/integrity.js'
import { purge, RETENTION_TYP } from '../../gateway/txlog/retention.js'
import type { Sql } from '../../gateway/txlog/sql.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { logDatabase } from '../helpers/postgres.js'
import { record } from '../helpers/records.js'

const demoKey = () =>
  Checkpointer.fromFile('ndx-gateway', projectPath('demo', 'keys', 'gateway-checkpoint.private.jwk.json'))
const ALL = { from: new Date('2020-01-01T00:00:00Z'), to: new Date('2030-01-01T00:00:00Z') }
const check = (sql: Sql, keys: CheckpointKeys, now = Date.now()) =>
  checkIntegrity(sql, ALL.from, ALL.to, { keys, checkpointEverySeconds: 60, now })
const VICTIM = [10, 11, 12, 17]

/** 20 records a minute old, four of them the victim's (seq 10–12 and 17), under one checkpoint. */
async function victimLog (t: Test) {
  const sql = await logDatabase(t, 'postgres')
  const writer = new LogWriter(sql)
  const cp = await demoKey()
  const keys = await CheckpointKeys.fromFiles([], cp.publicJwk)
  const t0 = Date.now() - 60_000
  await writer.write(Array.from({ length: 20 }, (_, i) =>
    record({ at: new Date(t0 + i * 100), subjectRef: VICTIM.includes(i + 1) ? 'victim' : `p${i}` })))
  await cp.checkpoint(sql, { now: t0 + 5000 })
  return { sql, writer, cp, keys, t0 }
}

t.test('records moved into an old partition are not purged by retention', async (t) => {
  const { sql, writer, cp, keys, t0 } = await victimLog(t)
  // The operator makes an old day's partition and moves the victim's records into it.
  await sql.exec("CREATE TABLE ndx_tx_20200101 PARTITION OF ndx_tx FOR VALUES FROM ('2020-01-01') TO ('2020-01-02')")
  await sql.query("UPDATE ndx_tx SET time = '2020-01-01' WHERE subject_ref = 'victim'")
  const alarms = tamperSuspected()
  await t.rejects(purge(sql, writer, cp, 30), TamperSuspected, 'retention refuses: not the oldest records')
  t.equal(tamperSuspected(), alarms + 1, 'counted (ndx_txlog_tamper_suspected)')
  const kept = await sql.query<{ seq: string }>("SELECT seq FROM ndx_tx WHERE subject_ref = 'victim' ORDER BY seq")
  t.same(kept.map((r) => Number(r.seq)), VICTIM, "the victim's records are still there")
  t.same(await sql.query('SELECT id FROM ndx_retention'), [], 'no trace signed')
  t.match((await check(sql, keys)).problems, [{ kind: 'edited', fromSeq: 10 }], 'the edited times are found meanwhile')

  // Even moved from the oldest records (their time edited), the removed range must recompute.
  await sql.query("UPDATE ndx_tx SET time = $1 WHERE subject_ref = 'victim'", [new Date(t0)])
  await sql.query("UPDATE ndx_tx SET time = '2020-01-01' WHERE seq <= 2")
  await t.rejects(purge(sql, writer, cp, 30), /do not recompute/, 'a prefix whose hashes fail is refused too')
})

t.test('a signed trace in the middle of live records accounts for nothing', async (t) => {
  const { sql, cp, keys } = await victimLog(t)
  // What the gateway signed before this fix: the victim's records removed, a trace naming them.
  const gone = await sql.query<{ seq: string; hash: string }>(
    "DELETE FROM ndx_tx WHERE subject_ref = 'victim' RETURNING seq, hash"
  )
  const hashOf = (seq: number) => gone.find((g) => Number(g.seq) === seq)!.hash
  const ranges = [{ fromSeq: 10, toSeq: 12, hash: hashOf(12) }, { fromSeq: 17, toSeq: 17, hash: hashOf(17) }]
  await sql.query('INSERT INTO ndx_retention (time, ranges, kid, jws) VALUES (now(), $1, $2, $3)',
    [JSON.stringify(ranges), cp.kid, await cp.signPayload({ ranges }, RETENTION_TYP)])
  t.same((await check(sql, keys)).problems, [
    { kind: 'deleted', fromSeq: 10, toSeq: 12 },
    { kind: 'deleted', fromSeq: 17, toSeq: 17 },
  ])
})

t.test('purging the oldest days one after another raises no alarm', async (t) => {
  const sql = await logDatabase(t, 'postgres')
  const writer = new LogWriter(sql)
  const cp = await demoKey()
  const keys = await CheckpointKeys.fromFiles([], cp.publicJwk)
  for (const day of ['2026-01-02', '2026-01-03', '2026-02-27']) {
    const at = Date.parse(`${day}T10:00:00Z`)
    await writer.write([record({ at: new Date(at) }), record({ at: new Date(at + 1000) })])
    await cp.checkpoint(sql, { now: at + 5000, everySeconds: 60 })
  }
  t.same(await purge(sql, writer, cp, 30, new Date('2026-02-02T12:00:00Z')), ['ndx_tx_20260102'])
  t.same(
    await purge(sql, writer, cp, 30, new Date('2026-02-03T12:00:00Z')),
    ['ndx_tx_20260103'],
    'from the last trace on'
  )
  const traces = await sql.query<{ ranges: string }>('SELECT ranges FROM ndx_retention ORDER BY id')
  t.match(traces.map((r) => JSON.parse(r.ranges)), [[{ fromSeq: 1, toSeq: 2 }], [{ fromSeq: 3, toSeq: 4 }]])
  t.same(await check(sql, keys, Date.parse('2026-03-01T00:00:00Z')), {
    checked: 2,
    ok: true,
    firstInvalid: null,
    problems: [],
  })
  await writer.write([record({ at: new Date('2026-02-27T11:00:00Z') })])
  t.match(
    await cp.checkpoint(sql, { now: Date.parse('2026-02-27T11:00:05Z'), everySeconds: 60 }),
    { seq: 7 },
    'checkpoints go on'
  )
})
