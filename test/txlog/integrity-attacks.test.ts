/**
 * An operator with write access to PostgreSQL attacks the log (CONTRACT §7 v1.1): deletes the oldest
 * records, rewrites a record and every hash after it, moves the head and deletes the later checkpoints,
 * forges a retention trace, rotates the checkpoint key. Each attack is found, every problem is reported,
 * and a legitimate purge or rotation raises no alarm. Real PostgreSQL.
 */
import t, { type Test } from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exportJWK, generateKeyPair } from 'jose'
import { projectPath } from '../../core/paths.js'
import { chainHash, GENESIS } from '../../gateway/txlog/chain.js'
import { CheckpointKeys, Checkpointer } from '../../gateway/txlog/checkpoints.js'
import { checkIntegrity } from '../../gateway/txlog/integrity.js'
import { recordOfRow, type Row } from '../../gateway/txlog/rows.js'
import { purge } from '../../gateway/txlog/retention.js'
import type { Sql } from '../../gateway/txlog/sql.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { logDatabase } from '../helpers/postgres.js'
import { record } from '../helpers/records.js'
import { tempDir } from '../helpers/txlog.js'

const ALL = { from: new Date('2020-01-01T00:00:00Z'), to: new Date('2030-01-01T00:00:00Z') }
const HOUR = 3_600_000
const demoKey = () =>
  Checkpointer.fromFile('ndx-gateway', projectPath('demo', 'keys', 'gateway-checkpoint.private.jwk.json'))

async function newKeyFile (dir: string, kid: string): Promise<{ privateFile: string, publicFile: string }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const privateFile = join(dir, `${kid}.private.jwk.json`)
  const publicFile = join(dir, `${kid}.public.jwk.json`)
  await writeFile(privateFile, JSON.stringify({ ...await exportJWK(privateKey), kid, alg: 'ES256' }))
  await writeFile(publicFile, JSON.stringify({ ...await exportJWK(publicKey), kid, alg: 'ES256' }))
  return { privateFile, publicFile }
}

/** A log of `batches` batches of 5 records, an hour apart, a checkpoint after each. */
async function checkpointedLog (
  t: Test,
  cp: Checkpointer,
  batches = 3
): Promise<{ sql: Sql; writer: LogWriter; start: number }> {
  const sql = await logDatabase(t, 'postgres')
  const writer = new LogWriter(sql)
  const start = Date.now() - 10 * HOUR
  for (let b = 0; b < batches; b++) {
    await writer.write(Array.from({ length: 5 }, (_, i) => record({ at: new Date(start + b * HOUR + i * 1000) })))
    // Signed when the records were written, as the running gateway does.
    await cp.checkpoint(sql, { now: start + b * HOUR + 5000 })
  }
  return { sql, writer, start }
}

const check = (sql: Sql, keys: CheckpointKeys | null, extra: { now?: number, pageSize?: number } = {}) =>
  checkIntegrity(sql, ALL.from, ALL.to, { keys, checkpointEverySeconds: 60, ...extra })

t.test('deleting the three oldest records, two under a checkpoint, is found', async (t) => {
  const cp = await demoKey()
  const keys = await CheckpointKeys.fromFiles([], cp.publicJwk)
  const { sql } = await checkpointedLog(t, cp)
  t.same(await check(sql, keys), { checked: 15, ok: true, firstInvalid: null, problems: [] }, 'intact')
  await sql.query('DELETE FROM ndx_tx WHERE seq <= 3')
  const [fourth] = await sql.query<{ id: string }>('SELECT id::text AS id FROM ndx_tx WHERE seq = 4')
  t.same(await check(sql, keys), {
    checked: 12,
    ok: false,
    firstInvalid: fourth!.id,
    problems: [{ kind: 'deleted', fromSeq: 1, toSeq: 3 }],
  })
})

t.test('deleting the newest records and moving the head back is found', async (t) => {
  const cp = await demoKey()
  const keys = await CheckpointKeys.fromFiles([], cp.publicJwk)
  const { sql } = await checkpointedLog(t, cp)
  await sql.query('DELETE FROM ndx_tx WHERE seq >= 14')
  t.match((await check(sql, keys)).problems, [{ kind: 'deleted', fromSeq: 14, toSeq: 15 }], 'the head still says 15')
})

t.test('a rewritten chain with its head moved and the later checkpoints deleted is found', async (t) => {
  const cp = await demoKey()
  const keys = await CheckpointKeys.fromFiles([], cp.publicJwk)
  const { sql } = await checkpointedLog(t, cp)
  // Re-attribute record 7, recompute every hash after it, move the head, delete the checkpoints after 5.
  const rows = await sql.query<Row>('SELECT * FROM ndx_tx ORDER BY seq')
  let prev = GENESIS
  for (const r of rows) {
    const rec = recordOfRow(r)
    if (r.seq === 7) rec.client = 'VN.BCA.C06'
    const hash = chainHash(prev, rec)
    await sql.query('UPDATE ndx_tx SET client = $1, prev_hash = $2, hash = $3 WHERE seq = $4', [
      rec.client,
      prev,
      hash,
      r.seq,
    ])
    prev = hash
  }
  await sql.query('UPDATE ndx_chain_head SET hash = $1', [prev])
  await sql.query('DELETE FROM ndx_checkpoints WHERE seq > 5')
  const result = await check(sql, keys)
  t.equal(result.ok, false, 'the rewrite is found')
  t.same(
    result.problems,
    [{ kind: 'checkpoint-missing', fromSeq: 6, toSeq: 15 }],
    'records written long ago under no checkpoint'
  )
  // A row with a high seq, carrying a genuine JWS copied from an earlier checkpoint, covers nothing.
  await sql.query(
    'INSERT INTO ndx_checkpoints (seq, hash, time, jws) ' +
      'SELECT 1000000, hash, now(), jws FROM ndx_checkpoints WHERE seq = 5'
  )
  t.same(
    (await check(sql, keys)).problems,
    [{ kind: 'checkpoint-missing', fromSeq: 6, toSeq: 15 }],
    'an inserted checkpoint row does not silence it'
  )
  t.equal(
    (await check(sql, keys, { now: Date.now() - 9.99 * HOUR })).ok,
    true,
    'records newer than the interval need no checkpoint yet'
  )
})

t.test('deleting a checkpoint in the middle breaks the checkpoint chain', async (t) => {
  const cp = await demoKey()
  const keys = await CheckpointKeys.fromFiles([], cp.publicJwk)
  const { sql } = await checkpointedLog(t, cp)
  await sql.query('DELETE FROM ndx_checkpoints WHERE seq = 10')
  t.same((await check(sql, keys)).problems, [{ kind: 'checkpoint-missing', fromSeq: 10, toSeq: 10 }])
  await sql.query('UPDATE ndx_checkpoints SET jws = $1 WHERE seq = 15', [await cp.sign(15, 'f'.repeat(64))])
  t.match((await check(sql, keys)).problems, [{ kind: 'checkpoint-invalid', fromSeq: 15, toSeq: 15 }])
})

t.test('every problem is reported, not only the first, a page at a time', async (t) => {
  const cp = await demoKey()
  const keys = await CheckpointKeys.fromFiles([], cp.publicJwk)
  const { sql } = await checkpointedLog(t, cp, 4)
  await sql.query("UPDATE ndx_tx SET purpose = 'other' WHERE seq IN (2, 3, 17)")
  await sql.query('DELETE FROM ndx_tx WHERE seq = 9')
  const result = await check(sql, keys, { pageSize: 4 })
  t.equal(result.checked, 19)
  t.same(result.problems, [
    { kind: 'edited', fromSeq: 2, toSeq: 3 },
    { kind: 'deleted', fromSeq: 9, toSeq: 9 },
    { kind: 'edited', fromSeq: 17, toSeq: 17 },
  ])
})

t.test('retention leaves a signed trace: a purge is not a deletion, a forged trace is', async (t) => {
  const cp = await demoKey()
  const keys = await CheckpointKeys.fromFiles([], cp.publicJwk)
  const sql = await logDatabase(t, 'postgres')
  const writer = new LogWriter(sql)
  const now = new Date('2026-03-01T12:00:00Z')
  await writer.write([
    record({ at: new Date('2026-01-02T10:00:00Z') }),
    record({ at: new Date('2026-01-02T11:00:00Z') }),
  ])
  await writer.write([
    record({ at: new Date('2026-02-27T10:59:59Z') }),
    record({ at: new Date('2026-02-27T11:00:00Z') }),
  ])
  await cp.checkpoint(sql, { now: Date.parse('2026-02-27T11:00:05Z') })
  t.same(await purge(sql, writer, cp, 30, now), ['ndx_tx_20260102'])
  const result = await check(sql, keys, { now: now.getTime() })
  t.same(
    result,
    { checked: 2, ok: true, firstInvalid: null, problems: [] },
    'the oldest records are gone, by retention'
  )
  const [trace] = await sql.query<{ ranges: string, kid: string }>('SELECT ranges, kid FROM ndx_retention')
  t.match(JSON.parse(trace!.ranges), [{ fromSeq: 1, toSeq: 2, hash: /^[0-9a-f]{64}$/ }])
  t.equal(trace!.kid, cp.kid)

  // An operator deletes record 3 and writes a trace of their own, unsigned or signed by another key.
  await sql.query('DELETE FROM ndx_tx WHERE seq = 3')
  const [{ hash }] = (await sql.query<{ hash: string }>('SELECT prev_hash AS hash FROM ndx_tx WHERE seq = 4')) as [
    { hash: string }
  ]
  await sql.query('INSERT INTO ndx_retention (time, ranges, kid, jws) VALUES (now(), $1, null, null)', [
    JSON.stringify([{ fromSeq: 3, toSeq: 3, hash }]),
  ])
  const other = await Checkpointer.fromFile('ndx-gateway', (await newKeyFile(await tempDir(t), cp.kid)).privateFile)
  await sql.query("INSERT INTO ndx_retention (time, ranges, kid, jws) VALUES (now(), '[]', $1, $2)",
    [cp.kid, await other.signPayload({ ranges: [{ fromSeq: 3, toSeq: 3, hash }] }, 'ndx-retention+jwt')])
  t.same(
    (await check(sql, keys, { now: now.getTime() })).problems,
    [{ kind: 'deleted', fromSeq: 3, toSeq: 3 }],
    'a trace the key did not sign accounts for nothing'
  )
})

t.test(
  'rotating the checkpoint key keeps earlier checkpoints verifiable, and only with the old key listed',
  async (t) => {
    const dir = await tempDir(t)
    const first = await newKeyFile(dir, 'checkpoint-2026-01')
    const second = await newKeyFile(dir, 'checkpoint-2026-07')
    const old = await Checkpointer.fromFile('ndx-gateway', first.privateFile)
    const { sql, writer } = await checkpointedLog(t, old, 2)
    // Rotation: a new checkpointKeyFile, the old public key listed in checkpointPublicKeys.
    const rotated = await Checkpointer.fromFile('ndx-gateway', second.privateFile)
    const at = Date.now() - 5 * HOUR
    await writer.write([record({ at: new Date(at) })])
    await rotated.trust(await CheckpointKeys.fromFiles([first.publicFile])).checkpoint(sql, { now: at + 1000 })
    const kids = await sql.query<{ kid: string }>('SELECT kid FROM ndx_checkpoints ORDER BY seq')
    t.same(
      kids.map((k) => k.kid),
      ['checkpoint-2026-01', 'checkpoint-2026-01', 'checkpoint-2026-07'],
      'checkpoints name their key'
    )
    const both = await CheckpointKeys.fromFiles([first.publicFile], rotated.publicJwk)
    t.same(
      await check(sql, both),
      { checked: 11, ok: true, firstInvalid: null, problems: [] },
      'no false alarm after a rotation'
    )
    t.same(
      both.jwks().keys.map((k) => k.kid),
      ['checkpoint-2026-07', 'checkpoint-2026-01']
    )
    const newOnly = await CheckpointKeys.fromFiles([], rotated.publicJwk)
    t.same(
      (await check(sql, newOnly)).problems,
      [
        { kind: 'checkpoint-invalid', fromSeq: 5, toSeq: 5 },
        { kind: 'checkpoint-invalid', fromSeq: 10, toSeq: 10 },
      ],
      'without the old key its checkpoints cannot be trusted'
    )
  }
)
