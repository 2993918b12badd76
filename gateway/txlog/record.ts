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
  requestBytes: number
  responseBytes: number
  /** Set by the log when the record is chained. */
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
