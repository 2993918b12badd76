/**
 * Retention: the only way records leave the log. Whole day partitions past `retentionDays` are dropped,
 * and in the same transaction a trace is stored naming the seq ranges removed and the hash at the end of
 * each (signed with the checkpoint key when there is one), so the integrity check can tell a purge from a
 * deletion, the oldest records included.
 *
 * Retention only ever removes a prefix of the chain, so that is all it signs: the records in the expired
 * partitions must be exactly the oldest ones, and recompute from where the last trace ended (or the
 * genesis). Records an operator moved into an old partition (by editing their time, or by creating one)
 * are refused, never purged under a signed trace.
 */
import type { Checkpointer } from './checkpoints.js'
import { RETENTION_TYP, retainedFrom, TamperSuspected, verifySpan, type RemovedRange } from './chain-verify.js'
import { partitionOf } from './schema.js'
import type { Sql } from './sql.js'
import type { LogWriter } from './writer.js'

export { RETENTION_TYP, type RemovedRange } from './chain-verify.js'

export interface RetentionPayload {
  readonly ranges: readonly RemovedRange[]
}

/**
 * Drops the partitions entirely older than `days`, leaving a signed trace; resolves with those dropped.
 * Rejects with `TamperSuspected` (and drops nothing) when they do not hold exactly a prefix of the chain.
 */
export async function purge (
  sql: Sql, writer: LogWriter, signer: Checkpointer | null, days: number, now = new Date()
): Promise<string[]> {
  const cutoff = partitionOf(new Date(now.getTime() - days * 86_400_000))
  return sql.transaction(async (tx) => {
    // Under the head lock: no batch lands in a partition while it is being dropped.
    await tx.query('SELECT seq FROM ndx_chain_head FOR UPDATE')
    const parts = (await tx.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relname = 'ndx_tx' AND c.relname < $1 ORDER BY c.relname`, [cutoff.name])).map((p) => p.name)
    if (parts.length === 0) return []
    const union = parts.map((name) => `SELECT seq, hash FROM ${name}`).join(' UNION ALL ')
    const [span] = await tx.query<{ lo: number | null, hi: number | null, n: number }>(
      `SELECT min(seq)::bigint AS lo, max(seq)::bigint AS hi, count(*)::bigint AS n FROM (${union}) u`)
    if (span?.lo != null && span.hi != null) {
      const removed = await checkPrefix(tx, signer, Number(span.lo), Number(span.hi), Number(span.n))
      const payload: RetentionPayload = { ranges: [removed] }
      const jws = signer === null ? null : await signer.signPayload({ ...payload }, RETENTION_TYP, now.getTime())
      await tx.query('INSERT INTO ndx_retention (time, ranges, kid, jws) VALUES ($1, $2, $3, $4)',
        [now, JSON.stringify(payload.ranges), signer?.kid ?? null, jws])
    }
    await writer.dropPartitions(tx, parts, cutoff.from)
    return parts
  })
}

/**
 * The expired records [lo..hi] (n of them) must be the oldest records, with none kept at or below hi,
 * start where the retention traces end and recompute from there. Resolves with the range to sign.
 */
async function checkPrefix (
  tx: Sql, signer: Checkpointer | null, lo: number, hi: number, n: number
): Promise<RemovedRange> {
  const from = await retainedFrom(tx, signer?.trusted ?? null)
  const [below] = await tx.query<{ n: number }>('SELECT count(*)::bigint AS n FROM ndx_tx WHERE seq <= $1', [hi])
  if (lo !== from.seq + 1 || hi - lo + 1 !== n || Number(below?.n ?? -1) !== n) {
    throw new TamperSuspected('retention: the expired partitions do not hold the oldest records of the chain')
  }
  const end = await verifySpan(tx, from, hi)
  if (end === null) throw new TamperSuspected('retention: the expired records do not recompute from the last trace')
  return { fromSeq: lo, toSeq: hi, hash: end.hash }
}
