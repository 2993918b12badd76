/**
 * An operator with write access to PostgreSQL, but not the checkpoint key, tries to have the running gateway
 * sign a forged log (red-team review, CONTRACT §7 v1.1): a chain rewritten from the genesis with every
 * checkpoint deleted, a chain rewritten after the last checkpoint. The checkpointer refuses and counts it;
 * a new chain of checkpoints started after records that existed before it is found by the integrity check;
 * and a fresh log, a restart, an idle period and a key rotation raise no alarm. Real PostgreSQL.
 */
import t from 'tap'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { exportJWK, generateKeyPair } from 'jose'
import { projectPath } from '../../core/paths.js'
import { chainHash, GENESIS } from '../../gateway/txlog/chain.js'
import { TamperSuspected, tamperSuspected } from '../../gateway/txlog/chain-verify.js'
import { CheckpointKeys, Checkpointer } from '../../gateway/txlog/checkpoints.js'
import { checkIntegrity } from '../../gateway/txlog/integrity.js'
import { recordOfRow, type Row } from '../../gateway/txlog/rows.js'
import type { Sql } from '../../gateway/txlog/sql.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { logDatabase } from '../helpers/postgres.js'
import { record } from '../helpers/records.js'
import { tempDir } from '../helpers/txlog.js'
import { pino } from 'pino'
import { LogMaintenance } from '../../gateway/txlog/worker.js'

const EVERY = 5
const SECOND = 1000
const demoKey = () =>
  Checkpointer.fromFile('ndx-gateway', projectPath('demo', 'keys', 'gateway-checkpoint.private.jwk.json'))
const ALL = { from: new Date('2020-01-01T00:00:00Z'), to: new Date('2030-01-01T00:00:00Z') }
const check = (sql: Sql, keys: CheckpointKeys, now: number) =>
  checkIntegrity(sql, ALL.from, ALL.to, { keys, checkpointEverySeconds: EVERY, now })

/** Ten calls a second apart from t0, three about the victim, checkpointed every interval as the gateway does. */
async function tenCalls (sql: Sql, cp: Checkpointer, t0: number): Promise<void> {
  const writer = new LogWriter(sql)
  for (let i = 0; i < 10; i++) {
    await writer.write([
      record({ at: new Date(t0 + i * SECOND), subjectRef: [4, 5, 8].includes(i) ? 'victim' : `p${i}` }),
    ])
    if (i % EVERY === EVERY - 1) await cp.checkpoint(sql, { now: t0 + (i + 1) * SECOND, everySeconds: EVERY })
  }
}

/** The operator deletes every record about the victim, renumbers and re-hashes the rest, moves the head. */
async function rewrite (sql: Sql, deleteCheckpoints: boolean): Promise<void> {
  await sql.query("DELETE FROM ndx_tx WHERE subject_ref = 'victim'")
  const rows = await sql.query<Row>('SELECT * FROM ndx_tx ORDER BY seq')
  let prev = GENESIS
  let seq = 0
  for (const r of rows) {
    const hash = chainHash(prev, recordOfRow(r))
    await sql.query('UPDATE ndx_tx SET seq = $1, prev_hash = $2, hash = $3 WHERE id = $4', [++seq, prev, hash, r.id])
    prev = hash
  }
  await sql.query('UPDATE ndx_chain_head SET seq = $1, hash = $2', [seq, prev])
  if (deleteCheckpoints) await sql.query('DELETE FROM ndx_checkpoints')
}

t.test('a rewritten chain is not re-signed by the gateway', async (t) => {
  const sql = await logDatabase(t, 'postgres')
  const cp = await demoKey()
  const keys = await CheckpointKeys.fromFiles([], cp.publicJwk)
  const t0 = Math.floor(Date.now() / SECOND) * SECOND - 600 * SECOND
  await tenCalls(sql, cp, t0)
  t.same(
    await check(sql, keys, t0 + 11 * SECOND),
    { checked: 10, ok: true, firstInvalid: null, problems: [] },
    'intact'
  )
  await rewrite(sql, true)
  const alarms = tamperSuspected()

  // One interval later, the running gateway (it remembers the checkpoint it signed last) refuses.
  await t.rejects(cp.checkpoint(sql, { now: t0 + 17 * SECOND, everySeconds: EVERY }), TamperSuspected)
  // So does a restarted one (nothing in memory): records older than the interval, and no checkpoint.
  const restarted = await demoKey()
  await t.rejects(restarted.checkpoint(sql, { now: t0 + 17 * SECOND, everySeconds: EVERY }), TamperSuspected)
  t.equal(tamperSuspected(), alarms + 2, 'each refusal counts (ndx_txlog_tamper_suspected)')
  // The gateway's maintenance timer says so in an error line (and goes on running).
  const lines: Array<{ level: number, msg: string, err?: { code?: string } }> = []
  const logger = pino({ level: 'info' }, { write: (l: string) => { lines.push(JSON.parse(l)) } })
  const maintenance = new LogMaintenance(
    sql,
    new LogWriter(sql),
    cp,
    { retentionDays: 400, checkpointEverySeconds: EVERY },
    logger
  )
  t.teardown(() => maintenance.close())
  t.equal(await maintenance.checkpoint(), null)
  t.match(lines, [
    { level: 50, msg: 'transaction log: tamper suspected; not signed', err: { code: 'TXLOG_TAMPER_SUSPECTED' } },
  ])
  t.same(await sql.query('SELECT seq FROM ndx_checkpoints'), [], 'nothing signed')

  // Had a gateway signed it anyway (as before), the new chain of checkpoints starts after records that existed.
  const jws = await cp.sign(
    7,
    (await sql.query<{ hash: string }>('SELECT hash FROM ndx_chain_head'))[0]!.hash,
    null,
    t0 + 17 * SECOND
  )
  await sql.query(
    'INSERT INTO ndx_checkpoints (seq, hash, time, jws, kid) SELECT seq, hash, now(), $1, $2 FROM ndx_chain_head',
    [jws, cp.kid]
  )
  t.same(await check(sql, keys, t0 + 120 * SECOND), {
    checked: 7, ok: false, firstInvalid: null, problems: [{ kind: 'checkpoint-missing', fromSeq: 1, toSeq: 2 }],
  }, 'records from t0 first covered at t0 + 17 s, with a 5 s interval')
})

t.test(
  'a chain rewritten under the last checkpoint is not extended, by the running gateway or a restarted one',
  async (t) => {
    const sql = await logDatabase(t, 'postgres')
    const cp = await demoKey()
    const t0 = Date.now() - 600 * SECOND
    await tenCalls(sql, cp, t0)
    await new LogWriter(sql).write([record({ at: new Date(t0 + 11 * SECOND) })])
    // Record 7 is re-attributed, every hash after it recomputed, the head moved; the checkpoints are kept.
    const rows = await sql.query<Row>('SELECT * FROM ndx_tx ORDER BY seq')
    let prev = GENESIS
    for (const r of rows) {
      const rec = { ...recordOfRow(r), client: r.seq === 7 ? 'VN.REWRITTEN' : r.client }
      const hash = chainHash(prev, rec as never)
      await sql.query('UPDATE ndx_tx SET client = $1, prev_hash = $2, hash = $3 WHERE seq = $4', [
        rec.client,
        prev,
        hash,
        r.seq,
      ])
      prev = hash
    }
    await sql.query('UPDATE ndx_chain_head SET hash = $1', [prev])
    await t.rejects(
      cp.checkpoint(sql, { now: t0 + 15 * SECOND }),
      TamperSuspected,
      'it recomputes from its checkpoint'
    )
    await t.rejects(
      (await demoKey()).checkpoint(sql, { now: t0 + 15 * SECOND }),
      TamperSuspected,
      'and so after a restart'
    )

    // A checkpoint row the operator replaces (a genuine JWS of an earlier head) is not extended either.
    await sql.query('UPDATE ndx_checkpoints SET jws = (SELECT jws FROM ndx_checkpoints WHERE seq = 5) WHERE seq = 10')
    await t.rejects((await demoKey()).checkpoint(sql, { now: t0 + 15 * SECOND }), /does not verify/)
    await sql.query('DELETE FROM ndx_checkpoints WHERE seq = 10')
    await t.rejects(cp.checkpoint(sql, { now: t0 + 15 * SECOND }), /not the one this gateway signed/)
  }
)

t.test('a fresh log, a restart, an idle period and a key rotation raise no alarm', async (t) => {
  const sql = await logDatabase(t, 'postgres')
  const writer = new LogWriter(sql)
  const cp = await demoKey()
  const keys = await CheckpointKeys.fromFiles([], cp.publicJwk)
  const t0 = Date.now() - 3 * 3_600_000
  const alarms = tamperSuspected()
  t.equal(await cp.checkpoint(sql, { now: t0, everySeconds: EVERY }), null, 'an empty log: nothing to sign')
  await tenCalls(sql, cp, t0)
  // A restart, then an hour with nothing written: no checkpoint is expected meanwhile.
  const restarted = await demoKey()
  t.equal(await restarted.checkpoint(sql, { now: t0 + 3_600_000, everySeconds: EVERY }), null, 'idle: nothing new')
  await writer.write([record({ at: new Date(t0 + 3_600_000 + SECOND) })])
  t.match(await restarted.checkpoint(sql, { now: t0 + 3_600_000 + 5 * SECOND, everySeconds: EVERY }), { seq: 11 })
  // A rotation: the new key extends the chain its predecessor signed.
  const dir = await tempDir(t)
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  await writeFile(
    join(dir, 'k2.jwk.json'),
    JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'checkpoint-k2', alg: 'ES256' })
  )
  const rotated = await Checkpointer.fromFile('ndx-gateway', join(dir, 'k2.jwk.json'))
  await writer.write([record({ at: new Date(t0 + 3_600_000 + 6 * SECOND) })])
  await t.rejects(
    rotated.checkpoint(sql, { now: t0 + 3_600_000 + 10 * SECOND }),
    TamperSuspected,
    'an unknown key is not trusted'
  )
  rotated.trust(keys)
  t.match(await rotated.checkpoint(sql, { now: t0 + 3_600_000 + 10 * SECOND, everySeconds: EVERY }), { seq: 12 })
  const both = new CheckpointKeys().add(rotated.publicJwk).add(cp.publicJwk)
  t.same(
    await check(sql, both, Date.now()),
    { checked: 12, ok: true, firstInvalid: null, problems: [] },
    'integrity agrees'
  )
  void publicKey
  t.equal(tamperSuspected(), alarms + 1, 'only the untrusted key was an alarm')
})
