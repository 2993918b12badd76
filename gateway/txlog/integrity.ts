/**
 * The integrity check (CONTRACT §7): walks the chain over a time range in seq order, a page at a time (a
 * month of records never sits in memory), and reports every problem, not only the first:
 * - `edited`: a record no longer matches its hash, or does not link to the one before;
 * - `deleted`: seq values missing, the oldest included, unless a retention trace (signed) accounts for them
 *   and links to the record after;
 * - `checkpoint-invalid`: a checkpoint whose signature, hash or link to the previous checkpoint is wrong;
 * - `checkpoint-missing`: a checkpoint a later one links to is gone, or records written longer ago than
 *   the checkpoint interval (twice, plus a grace) are under no checkpoint — what a rewrite that deleted the
 *   later checkpoints leaves — or the checkpoint chain starts (no previous checkpoint) after records that
 *   existed before it: records it covers, not removed by retention, are older than its signing time by more
 *   than the interval allows — what a rewrite that deleted every checkpoint and had a new chain signed leaves.
 * It proves the log is what the checkpoint key signed; it cannot catch whoever holds that key.
 */
import { chainHash, GENESIS } from './chain.js'
import type { CheckpointKeys, CheckpointPayload } from './checkpoints.js'
import { recordOfRow, type Row } from './rows.js'
import { lateMs, prefixRanges, removedRanges, type RemovedRange } from './chain-verify.js'
import type { Sql } from './sql.js'

export type ProblemKind = 'edited' | 'deleted' | 'checkpoint-missing' | 'checkpoint-invalid'

export interface IntegrityProblem {
  kind: ProblemKind
  fromSeq: number
  toSeq: number
}

export interface IntegrityResult {
  checked: number
  ok: boolean
  firstInvalid: string | null
  problems: IntegrityProblem[]
}

export interface IntegrityOptions {
  /** The checkpoint keys; null when the gateway signs no checkpoints (they are then not checked). */
  readonly keys: CheckpointKeys | null
  readonly checkpointEverySeconds: number
  readonly now?: number
  readonly pageSize?: number
  /** Problems reported at most (each a range, so this bounds the reply, not what is found). */
  readonly maxProblems?: number
}

/** Beyond twice the interval, this long again before a record without a checkpoint is a problem. */
const GRACE_MS = 60_000

interface CheckpointRow { seq: number, hash: string, jws: string }

class Findings {
  readonly problems: IntegrityProblem[] = []
  firstInvalid: string | null = null
  constructor (readonly max: number) {}

  add (kind: ProblemKind, fromSeq: number, toSeq: number, id: string | null = null): void {
    this.firstInvalid ??= id
    const last = this.problems[this.problems.length - 1]
    if (last !== undefined && last.kind === kind && last.toSeq + 1 >= fromSeq && fromSeq >= last.fromSeq) {
      last.toSeq = Math.max(last.toSeq, toSeq)
      return
    }
    if (this.problems.length < this.max) this.problems.push({ kind, fromSeq, toSeq })
  }
}

/**
 * The parts of the gap [from, to] retention does not account for. Ranges are disjoint (each seq left in
 * one dropped partition). A gap fully accounted for must also end at the hash the record after links to
 * (`hash`; null when no record follows), else the whole gap is unaccounted for.
 */
function unaccounted (
  ranges: readonly RemovedRange[], from: number, to: number, hash: string | null
): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let next = from
  let endHash: string | null = null
  for (const r of ranges) {
    if (r.toSeq < next) continue
    if (r.fromSeq > to) break
    if (r.fromSeq > next) out.push([next, r.fromSeq - 1])
    next = r.toSeq + 1
    endHash = r.toSeq === to ? r.hash : null
    if (next > to) break
  }
  if (next <= to) out.push([next, to])
  if (out.length === 0 && hash !== null && endHash !== hash) return [[from, to]]
  return out
}

export async function checkIntegrity (
  sql: Sql,
  from: Date,
  to: Date,
  opts: IntegrityOptions
): Promise<IntegrityResult> {
  const now = opts.now ?? Date.now()
  const page = opts.pageSize ?? 5000
  const found = new Findings(opts.maxProblems ?? 1000)
  const [bounds] = await sql.query<{ lo: number | null; hi: number | null }>(
    'SELECT min(seq) AS lo, max(seq) AS hi FROM ndx_tx WHERE time >= $1 AND time < $2',
    [from, to]
  )
  if (bounds?.lo == null || bounds.hi == null) return { checked: 0, ok: true, firstInvalid: null, problems: [] }
  const lo = Number(bounds.lo)
  const hi = Number(bounds.hi)
  // Only a prefix of the chain can have been removed by retention: a trace elsewhere accounts for nothing.
  const removed = prefixRanges(await removedRanges(sql, opts.keys))

  // The predecessor of the first record: the one before it, else the last kept before it, else genesis.
  const [before] = await sql.query<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM ndx_tx WHERE seq < $1 ORDER BY seq DESC LIMIT 1',
    [lo]
  )
  let prev = before === undefined ? { seq: 0, hash: GENESIS } : { seq: Number(before.seq), hash: before.hash }
  const [cpBefore] = await sql.query<CheckpointRow>(
    'SELECT seq, hash, jws FROM ndx_checkpoints WHERE seq < $1 ORDER BY seq DESC LIMIT 1',
    [lo]
  )
  let lastCp: CheckpointRow | null = cpBefore ?? null
  let checked = 0
  /** The last record under a checkpoint that verified. */
  let anchored = 0

  for (let a = lo; a <= hi; a += page) {
    const b = Math.min(a + page, hi + 1)
    const rows = await sql.query<Row>('SELECT * FROM ndx_tx WHERE seq >= $1 AND seq < $2 ORDER BY seq', [a, b])
    const hashes = new Map<number, string>()
    for (const row of rows) {
      const seq = Number(row.seq)
      checked++
      if (seq > prev.seq + 1) {
        const gaps = unaccounted(removed, prev.seq + 1, seq - 1, row.prev_hash)
        for (const [f, l] of gaps) found.add('deleted', f, l, row.id)
      } else if (seq <= prev.seq || row.prev_hash !== prev.hash) {
        found.add('edited', Math.min(prev.seq, seq), seq, row.id)
      }
      if (chainHash(row.prev_hash, recordOfRow(row)) !== row.hash) found.add('edited', seq, seq, row.id)
      hashes.set(seq, row.hash)
      prev = { seq, hash: row.hash }
    }
    if (opts.keys !== null) {
      const cps = await sql.query<CheckpointRow>(
        'SELECT seq, hash, jws FROM ndx_checkpoints WHERE seq >= $1 AND seq < $2 ORDER BY seq',
        [a, b]
      )
      for (const cp of cps) {
        const seq = Number(cp.seq)
        if (await checkCheckpoint(sql, opts.keys, { ...cp, seq }, lastCp, hashes.get(seq), found)) anchored = seq
        lastCp = cp
      }
    }
  }
  await checkTail(sql, hi, prev, removed, found)
  const dueBefore = now - 2 * opts.checkpointEverySeconds * 1000 - GRACE_MS
  if (opts.keys !== null) {
    await checkFirst(sql, opts.keys, removed, lo, hi, lateMs(opts.checkpointEverySeconds), found)
    await checkCovered(sql, opts.keys, anchored, hi, dueBefore, found)
  }
  return { checked, ok: found.problems.length === 0, firstInvalid: found.firstInvalid, problems: found.problems }
}

/** The payload of a checkpoint whose signature verifies and that states its row's seq and hash, or null. */
async function validCheckpoint (
  keys: CheckpointKeys, cp: CheckpointRow, recordHash: string | undefined
): Promise<CheckpointPayload | null> {
  const payload = await keys.verify<CheckpointPayload>(cp.jws)
  const states = payload !== null && payload.seq === Number(cp.seq) && payload.hash === cp.hash
  return states && cp.hash === recordHash ? payload : null
}

/** Checks one checkpoint and its link to the one before; resolves with whether it anchors its record. */
async function checkCheckpoint (
  sql: Sql, keys: CheckpointKeys, cp: CheckpointRow, lastCp: CheckpointRow | null,
  recordHash: string | undefined, found: Findings
): Promise<boolean> {
  // A checkpoint over a deleted record: the deletion is the problem already reported.
  if (recordHash === undefined) return false
  const payload = await validCheckpoint(keys, cp, recordHash)
  if (payload === null) {
    found.add('checkpoint-invalid', cp.seq, cp.seq)
    return false
  }
  // Checkpoints signed before v1.1 carry no link.
  if (payload.prev === undefined) return true
  const expected = lastCp === null ? null : { seq: Number(lastCp.seq), hash: lastCp.hash }
  const linked = payload.prev === null
    ? expected === null
    : expected !== null && payload.prev.seq === expected.seq && payload.prev.hash === expected.hash
  if (linked) return true
  if (payload.prev !== null && (expected === null || payload.prev.seq > expected.seq)) {
    // The checkpoint it links to is gone (unless retention removed its records).
    const [kept] = await sql.query('SELECT 1 FROM ndx_checkpoints WHERE seq = $1', [payload.prev.seq])
    if (kept === undefined) {
      found.add('checkpoint-missing', payload.prev.seq, payload.prev.seq)
      return true
    }
  }
  found.add('checkpoint-invalid', cp.seq, cp.seq)
  return true
}

/** Records cut off after the range's last one (the head says they were written). */
async function checkTail (
  sql: Sql, hi: number, prev: { seq: number, hash: string }, removed: readonly RemovedRange[], found: Findings
): Promise<void> {
  if (prev.seq < hi) found.add('deleted', prev.seq + 1, hi)
  const [next] = await sql.query<{ seq: number }>('SELECT seq FROM ndx_tx WHERE seq > $1 ORDER BY seq LIMIT 1', [hi])
  if (next !== undefined) return
  const [head] = await sql.query<{ seq: number }>('SELECT seq FROM ndx_chain_head')
  const headSeq = Number(head?.seq ?? 0)
  if (headSeq > hi) for (const [f, l] of unaccounted(removed, hi + 1, headSeq, null)) found.add('deleted', f, l)
}

/**
 * Records older than the checkpoint interval allows, under no checkpoint that verifies: the later
 * checkpoints are gone. A checkpoint row past the range counts only if it verifies against its record (an
 * inserted row with a high seq must not silence this check).
 */
async function checkCovered (
  sql: Sql, keys: CheckpointKeys, anchored: number, hi: number, dueBefore: number, found: Findings
): Promise<void> {
  let covered = anchored
  if (covered < hi) {
    const later = await sql.query<CheckpointRow & { record_hash: string | null }>(
      `SELECT c.seq, c.hash, c.jws, (SELECT t.hash FROM ndx_tx t WHERE t.seq = c.seq LIMIT 1) AS record_hash
       FROM ndx_checkpoints c WHERE c.seq > $1 ORDER BY c.seq LIMIT 20`, [hi])
    for (const cp of later) {
      if (await validCheckpoint(keys, cp, cp.record_hash ?? undefined) !== null) { covered = hi; break }
    }
  }
  if (covered >= hi) return
  const [due] = await sql.query<{ lo: number | null, hi: number | null }>(
    'SELECT min(seq) AS lo, max(seq) AS hi FROM ndx_tx WHERE seq > $1 AND seq <= $2 AND time < $3',
    [covered, hi, new Date(dueBefore)])
  if (due?.lo != null && due.hi != null) found.add('checkpoint-missing', Number(due.lo), Number(due.hi))
}

/**
 * The first checkpoint (one that names no previous checkpoint) must have been signed within the interval
 * after the records it covers that retention did not remove: records older than that existed before the
 * checkpoint chain began, so their checkpoints were deleted and a new chain was started over a rewrite.
 */
async function checkFirst (
  sql: Sql, keys: CheckpointKeys, removed: readonly RemovedRange[], lo: number, hi: number, late: number,
  found: Findings
): Promise<void> {
  const [first] = await sql.query<CheckpointRow & { record_hash: string | null }>(
    `SELECT c.seq, c.hash, c.jws, (SELECT t.hash FROM ndx_tx t WHERE t.seq = c.seq LIMIT 1) AS record_hash
     FROM ndx_checkpoints c ORDER BY c.seq LIMIT 1`)
  if (first === undefined) return
  const payload = await validCheckpoint(keys, first, first.record_hash ?? undefined)
  // Checkpoints signed before v1.1 carry no link, so none of them is known to start the chain.
  if (payload === null || payload.prev !== null || typeof payload.iat !== 'number') return
  const kept = removed.length === 0 ? 0 : removed[removed.length - 1]!.toSeq
  const [early] = await sql.query<{ lo: number | null, hi: number | null }>(
    `SELECT min(seq) AS lo, max(seq) AS hi FROM ndx_tx
     WHERE seq > $1 AND seq >= $2 AND seq <= $3 AND seq <= $4 AND time < $5`,
    [kept, lo, hi, Number(first.seq), new Date(payload.iat * 1000 - late)])
  if (early?.lo != null && early.hi != null) found.add('checkpoint-missing', Number(early.lo), Number(early.hi))
}
