/**
 * Rows of `ndx_tx` and the records they hold: what reading the log and verifying its chain both need.
 */
import type { Outcome, TransactionRecord } from './record.js'

/** One row of `ndx_tx`, as PostgreSQL returns it. */
export interface Row {
  seq: number,
  id: string,
  time: Date,
  client: string | null,
  key_id: string | null,
  service: string | null,
  operation: string | null,
  method: string,
  route: string | null,
  purpose: string | null,
  subject_ref: string | null,
  on_behalf_of: string | null,
  outcome: Outcome,
  status: number,
  code: string | null,
  source: 'upstream' | 'reuse' | null,
  fields: string | null,
  duration_ms: number,
  upstream_ms: number | null,
  request_bytes: number,
  response_bytes: number,
  claimed_client?: string | null,
  replay_guard?: 'shared' | 'local' | null,
  stale?: boolean | null,
  prev_hash: string,
  hash: string
}

/** A record as the database holds it, back in the form it was hashed in. */
export function recordOfRow (r: Row): TransactionRecord {
  return {
    id: r.id,
    seq: Number(r.seq),
    time: new Date(r.time).toISOString(),
    client: r.client,
    keyId: r.key_id,
    service: r.service,
    operation: r.operation,
    method: r.method,
    route: r.route,
    purpose: r.purpose,
    subjectRef: r.subject_ref,
    onBehalfOf: r.on_behalf_of,
    outcome: r.outcome,
    status: r.status,
    code: r.code,
    source: r.source,
    fields: r.fields === null ? null : JSON.parse(r.fields) as string[],
    durationMs: r.duration_ms,
    upstreamMs: r.upstream_ms,
    requestBytes: r.request_bytes,
    responseBytes: r.response_bytes,
    claimedClient: r.claimed_client ?? null,
    replayGuard: r.replay_guard ?? null,
    stale: r.stale === true,
    prevHash: r.prev_hash,
    hash: r.hash,
  }
}
