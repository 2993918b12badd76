/**
 * The transaction record (CONTRACT §7): one per /v1 request, served, refused or failed. It never holds a
 * payload or a raw subject; `subjectRef` and `onBehalfOf` are keyed HMACs.
 */
export type Outcome = 'ok' | 'not_found' | 'denied' | 'rejected' | 'error'

export interface TransactionRecord {
  id: string
  /** ISO time with milliseconds, when the request arrived. */
  time: string
  client: string | null
  keyId: string | null
  service: string | null
  operation: string | null
  method: string
  /** The route template, never the raw path. */
  route: string | null
  purpose: string | null
  subjectRef: string | null
  onBehalfOf: string | null
  outcome: Outcome
  status: number
  code: string | null
  source: 'upstream' | 'reuse' | null
  fields: string[] | null
  durationMs: number
  upstreamMs: number | null
  /** Body bytes the gateway received (measured, never the declared Content-Length). */
  requestBytes: number
  responseBytes: number
  /** (v1.1) The `iss` of a token that did not verify; `client` is then null. */
  claimedClient: string | null
  /** (v1.1) How the token's jti was guarded against replay, null if not reached. */
  replayGuard: 'shared' | 'local' | null
  /** (v1.1) A kept record was served past its reuse window. */
  stale: boolean
  /** Set by the log when the record is chained: its place in the chain. */
  seq?: number
  prevHash?: string
  hash?: string
}

/** CONTRACT §7: 2xx→ok; record.not_found→not_found; 403→denied; other 4xx→rejected; 5xx→error. */
export function outcomeOf (status: number, code: string | null): Outcome {
  if (status >= 200 && status < 300) return 'ok'
  if (code === 'record.not_found') return 'not_found'
  if (status === 403) return 'denied'
  if (status >= 400 && status < 500) return 'rejected'
  return 'error'
}

/** The largest value an integer column holds. */
const INT_MAX = 2_147_483_647

/** A value the log can always store: a finite integer in 0..INT_MAX. */
function count (n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) ? Math.min(INT_MAX, Math.max(0, Math.round(n))) : 0
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/**
 * A text the log can always store: no NUL (PostgreSQL text refuses it), bounded length, and well-formed
 * UTF-16. A lone surrogate (sent as `\ud800` in a claim, or made by cutting a pair in two) is hashed as it
 * is but stored as U+FFFD, so the stored record would no longer match its own hash: replaced before both.
 */
function text (v: string | null, max = 256): string | null {
  if (v === null) return null
  // eslint-disable-next-line no-control-regex
  const clean = v.replace(/[\u0000-\u001f\u007f]/g, '?')
  return (clean.length > max ? clean.slice(0, max) : clean).replace(LONE_SURROGATE, '\ufffd')
}

/**
 * The record as the log stores it: every field within its column's range, so no value that reached the
 * record from a client (a claimed `iss`, a huge number) can make the insert fail and hold other records back.
 */
export function storable (r: TransactionRecord): TransactionRecord {
  return {
    ...r,
    client: text(r.client),
    keyId: text(r.keyId),
    claimedClient: text(r.claimedClient, 128),
    purpose: text(r.purpose),
    status: Math.min(999, Math.max(0, Math.trunc(r.status) || 0)),
    requestBytes: count(r.requestBytes),
    responseBytes: count(r.responseBytes),
    durationMs: Number.isFinite(r.durationMs) ? r.durationMs : 0,
    upstreamMs: r.upstreamMs === null || !Number.isFinite(r.upstreamMs) ? null : r.upstreamMs,
  }
}
