/**
 * The "record" step: every /v1 request gets a transaction id when it arrives, and exactly one transaction
 * record, handed to the sink in onSend — after the reply is final, before a byte of it leaves. If the sink
 * cannot keep the record, the reply is replaced by `503 gateway.unavailable`: nothing is served unrecorded.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { problem, problemBody } from '../errors.js'
import type { Pseudonymizer } from '../pseudonym.js'
import { newTransaction, type TransactionContext } from '../pipeline/transaction.js'
import { outcomeOf, type TransactionRecord } from '../txlog/record.js'
import type { TransactionSink } from '../txlog/sink.js'

export interface TransactionsOptions {
  readonly sink: () => TransactionSink
  readonly pseudonymizer: () => Pseudonymizer
  /** Called with every record kept (metrics). */
  readonly onRecord?: (record: TransactionRecord) => void
}

export function isV1 (url: string): boolean {
  return url.startsWith('/v1/') || url === '/v1' || url.startsWith('/v1?')
}

function payloadBytes (payload: unknown): number {
  if (typeof payload === 'string') return Buffer.byteLength(payload)
  if (Buffer.isBuffer(payload)) return payload.length
  return 0
}

export function toRecord (txn: TransactionContext, status: number, responseBytes: number, pseudo: Pseudonymizer): TransactionRecord {
  return {
    id: txn.id,
    time: txn.time,
    client: txn.client,
    keyId: txn.keyId,
    service: txn.service,
    operation: txn.operation,
    method: txn.method,
    route: txn.route,
    purpose: txn.purpose,
    subjectRef: txn.subject === null ? null : pseudo.subjectRef(txn.subject),
    onBehalfOf: txn.onBehalfOf === null ? null : pseudo.onBehalfOf(txn.onBehalfOf),
    outcome: outcomeOf(status, txn.code),
    status,
    code: txn.code,
    source: status >= 200 && status < 300 ? txn.source : null,
    fields: status >= 200 && status < 300 ? txn.fields : null,
    durationMs: Math.round((performance.now() - txn.startedAt) * 1000) / 1000,
    upstreamMs: txn.upstreamMs === null ? null : Math.round(txn.upstreamMs * 1000) / 1000,
    requestBytes: txn.requestBytes,
    responseBytes,
  }
}

/** Opens a /v1 request's transaction: the request id is the transaction id, sent back as X-Transaction-Id. */
export function openTransaction (req: FastifyRequest, reply: FastifyReply): void {
  const txn = newTransaction(req.id, req.method)
  req.txn = txn
  reply.header('x-transaction-id', txn.id)
}

export default fp<TransactionsOptions>(async function transactions (app: FastifyInstance, opts) {
  app.decorateRequest('txn', undefined)

  // Callback-style hooks on the hot path: no promise per request where nothing is awaited.
  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (isV1(req.url)) openTransaction(req, reply)
    done()
  })

  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const txn = req.txn
    if (txn === undefined) return payload
    txn.requestBytes = req.rawBody?.length ?? (Number(req.headers['content-length']) || 0)
    const record = toRecord(txn, reply.statusCode, payloadBytes(payload), opts.pseudonymizer())
    try {
      await opts.sink().append(record)
      opts.onRecord?.(record)
      return payload
    } catch (err) {
      req.log.error({ err, txn: txn.id }, 'transaction record could not be kept; reply withheld')
      txn.code = 'gateway.unavailable'
      reply.code(503).type('application/problem+json; charset=utf-8').header('cache-control', 'no-store').header('retry-after', '1')
      return JSON.stringify(problemBody(problem('gateway.unavailable', 'The gateway cannot record transactions now; try again shortly'), txn.id))
    }
  })

  app.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const txn = req.txn
    if (txn !== undefined && (req.log as unknown as { isLevelEnabled?: (l: string) => boolean }).isLevelEnabled?.('info') !== false) logTransaction(req, reply, txn)
    done()
  })
}, { name: 'ndx-transactions' })

function logTransaction (req: FastifyRequest, reply: FastifyReply, txn: TransactionContext): void {
  req.log.info({
    txn: txn.id,
    route: txn.route,
    status: reply.statusCode,
    code: txn.code,
    client: txn.client,
    source: txn.source,
    ms: Math.round((performance.now() - txn.startedAt) * 100) / 100,
  }, 'transaction')
}
