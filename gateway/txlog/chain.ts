/**
 * The hash chain over transaction records: each record's `hash` covers its fields and the previous
 * record's hash, so an edited record no longer matches its hash and a deleted one breaks the link after it.
 * The serialization is fixed (CONTRACT §7 field order, JSON values), so anyone can recompute it.
 */
import { createHash } from 'node:crypto'
import type { TransactionRecord } from './record.js'

export const GENESIS = '0'.repeat(64)

/**
 * The record's fields in contract order, without seq/prevHash/hash. The v1.1 fields (claimedClient,
 * replayGuard, stale) follow only when one of them is set, so records chained before v1.1 keep their hashes
 * and a v1.1 record's hash still covers all of them (an array of 23 never serializes like one of 20).
 */
export function chainFields (r: TransactionRecord): unknown[] {
  const fields: unknown[] = [
    r.id, r.time, r.client, r.keyId, r.service, r.operation, r.method, r.route, r.purpose, r.subjectRef,
    r.onBehalfOf, r.outcome, r.status, r.code, r.source, r.fields, r.durationMs, r.upstreamMs,
    r.requestBytes, r.responseBytes,
  ]
  const claimed = r.claimedClient ?? null
  const guard = r.replayGuard ?? null
  const stale = r.stale === true
  if (claimed !== null || guard !== null || stale) fields.push(claimed, guard, stale)
  return fields
}

/** hex SHA-256 of `prevHash \n JSON(fields)`. */
export function chainHash (prevHash: string, r: TransactionRecord): string {
  return createHash('sha256').update(prevHash).update('\n').update(JSON.stringify(chainFields(r))).digest('hex')
}
