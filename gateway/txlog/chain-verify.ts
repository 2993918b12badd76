/**
 * What the signing side checks before it signs anything about the chain (a checkpoint, a retention trace):
 * the records recompute from a point the gateway already trusts (its last checkpoint, the end of the
 * retention traces, or the genesis). An operator with write access to the database can rewrite the chain
 * consistently; without this check the gateway itself would sign the rewrite.
 */
import { chainHash, GENESIS } from './chain.js'
import { recordOfRow, type Row } from './rows.js'
import type { Sql } from './sql.js'

/** One run of consecutive seq values removed, and the hash of its last record (what the next links to). */
export interface RemovedRange {
  readonly fromSeq: number
  readonly toSeq: number
  readonly hash: string
}

/** The JWS type of a retention trace (signed with the checkpoint key). */
export const RETENTION_TYP = 'ndx-retention+jwt'

export interface ChainPoint { readonly seq: number, readonly hash: string }

/** The keys a signed trace of removed records verifies with (checkpoints.ts `CheckpointKeys`). */
export interface TraceKeys {
  verify<T> (jws: string, typ?: string): Promise<T | null>
}

/** The log looks tampered with: the gateway refuses to sign (stable code for logs and alerts). */
export class TamperSuspected extends Error {
  readonly code = 'TXLOG_TAMPER_SUSPECTED'
  constructor (message: string) {
    super(message)
    this.name = 'TamperSuspected'
    tamperCount++
  }
}

let tamperCount = 0

/** Refusals to sign since the process started (`ndx_txlog_tamper_suspected`: alert on any). */
export function tamperSuspected (): number {
  return tamperCount
}

const PAGE = 1000

/**
 * Recomputes the chain from `from` (exclusive) to `toSeq`: every seq present, each linking to the one
 * before and matching its hash. Resolves with the point reached at `toSeq`, or null if it does not verify.
 */
export async function verifySpan (sql: Sql, from: ChainPoint, toSeq: number): Promise<ChainPoint | null> {
  let prev = from
  while (prev.seq < toSeq) {
    const rows = await sql.query<Row>(
      'SELECT * FROM ndx_tx WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3', [prev.seq, toSeq, PAGE])
    if (rows.length === 0) return null
    for (const row of rows) {
      const seq = Number(row.seq)
      if (seq !== prev.seq + 1 || row.prev_hash !== prev.hash) return null
      if (chainHash(row.prev_hash, recordOfRow(row)) !== row.hash) return null
      prev = { seq, hash: row.hash }
    }
  }
  return prev
}

/** The ranges in retention traces that verify (any trace, when no key signs them), in seq order. */
export async function removedRanges (sql: Sql, keys: TraceKeys | null): Promise<RemovedRange[]> {
  const rows = await sql.query<{ ranges: string, jws: string | null }>(
    'SELECT ranges, jws FROM ndx_retention ORDER BY id')
  const out: RemovedRange[] = []
  for (const r of rows) {
    if (keys === null) {
      out.push(...JSON.parse(r.ranges) as RemovedRange[])
      continue
    }
    const payload = r.jws === null ? null : await keys.verify<{ ranges: RemovedRange[] }>(r.jws, RETENTION_TYP)
    if (payload !== null && Array.isArray(payload.ranges)) out.push(...payload.ranges)
  }
  return out.sort((a, b) => a.fromSeq - b.fromSeq)
}

/**
 * The ranges that form a prefix of the chain (from seq 1, each starting where the one before ended):
 * retention only ever removes the oldest records, so a trace anywhere else accounts for nothing.
 */
export function prefixRanges (ranges: readonly RemovedRange[]): RemovedRange[] {
  const out: RemovedRange[] = []
  let next = 1
  for (const r of ranges) {
    if (r.fromSeq !== next || r.toSeq < r.fromSeq) break
    out.push(r)
    next = r.toSeq + 1
  }
  return out
}

/** Where the retained chain starts from: the end of the retention prefix, else the genesis. */
export async function retainedFrom (sql: Sql, keys: TraceKeys | null): Promise<ChainPoint> {
  const prefix = prefixRanges(await removedRanges(sql, keys))
  const last = prefix[prefix.length - 1]
  return last === undefined ? { seq: 0, hash: GENESIS } : { seq: last.toSeq, hash: last.hash }
}

/**
 * How late a checkpoint may cover a record: the checkpointer runs every interval, a tick may fail once,
 * and a record reaches the database a few seconds after its time.
 */
export function lateMs (checkpointEverySeconds: number): number {
  return 2 * checkpointEverySeconds * 1000 + 5_000
}
