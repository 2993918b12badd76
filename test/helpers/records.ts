/** Transaction records made to order, for log tests. */
import { transactionId } from '../../core/ids.js'
import { outcomeOf, type TransactionRecord } from '../../gateway/txlog/record.js'

export function record (over: Partial<TransactionRecord> & { at?: Date } = {}): TransactionRecord {
  const at = over.at ?? new Date()
  const status = over.status ?? 200
  const code = over.code ?? null
  const { at: _at, ...rest } = over
  return {
    id: transactionId(at.getTime()),
    time: at.toISOString(),
    client: 'VN.LOC.DNG',
    keyId: 'dng-2026-01',
    service: 'population',
    operation: 'citizen',
    method: 'GET',
    route: '/v1/population/citizens/{personalId}',
    purpose: 'public-service',
    subjectRef: 'ref-abc',
    onBehalfOf: null,
    outcome: outcomeOf(status, code),
    status,
    code,
    source: status === 200 ? 'upstream' : null,
    fields: status === 200 ? ['fullName'] : null,
    durationMs: 1.234,
    upstreamMs: 0.5,
    requestBytes: 0,
    responseBytes: 321,
    claimedClient: null,
    replayGuard: null,
    stale: false,
    ...rest,
  }
}
