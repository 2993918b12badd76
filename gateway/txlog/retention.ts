/**
 * Retention: the only way records leave the log. Whole day partitions past `retentionDays` are dropped,
 * and in the same transaction a trace is stored naming the seq ranges removed and the hash at the end of
 * each (signed with the checkpoint key when there is one), so the integrity check can tell a purge from a
 * deletion, the oldest records included.
 */
import type { Checkpointer } from './checkpoints.js'
import { partitionOf } from './schema.js'
import type { Sql } from './sql.js'
import type { LogWriter } from './writer.js'

/** One run of consecutive seq values removed, and the hash of its last record (what the next links to). */
export interface RemovedRange {
  readonly fromSeq: number
  readonly toSeq: number
  readonly hash: string
}

/** The JWS type of a retention trace (signed with the checkpoint key). */
export const RETENTION_TYP = 'ndx-retention+jwt'

export interface RetentionPayload {
  readonly ranges: readonly RemovedRange[]
}

/** Drops the partitions entirely older than `days`, leaving a signed trace; resolves with those dropped. */
export async function purge (
  sql: Sql, writer: LogWriter, signer: Checkpointer | null, days: number, now = new Date(),
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
    // Gaps and islands: consecutive seq values share seq - row_number().
    const ranges = await tx.query<{ from_seq: number, to_seq: number, hash: string }>(
      `WITH s AS (SELECT seq, hash, seq - row_number() OVER (ORDER BY seq) AS g FROM (${union}) u)
       SELECT min(seq)::bigint AS from_seq, max(seq)::bigint AS to_seq,
         (array_agg(hash ORDER BY seq DESC))[1] AS hash FROM s GROUP BY g ORDER BY 1`)
    if (ranges.length > 0) {
      const removed = ranges.map((r) => ({ fromSeq: Number(r.from_seq), toSeq: Number(r.to_seq), hash: r.hash }))
      const payload: RetentionPayload = { ranges: removed }
      const jws = signer === null ? null : await signer.signPayload({ ...payload }, RETENTION_TYP, now.getTime())
      await tx.query('INSERT INTO ndx_retention (time, ranges, kid, jws) VALUES ($1, $2, $3, $4)',
        [now, JSON.stringify(payload.ranges), signer?.kid ?? null, jws])
    }
    await writer.dropPartitions(tx, parts, cutoff.from)
    return parts
  })
}
