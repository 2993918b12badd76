/**
 * The record step's hooks: every /v1 request gets a transaction id when it arrives (sent back as
 * X-Transaction-Id), and exactly one transaction record, handed to the sink in onSend — after the reply is
 * final, before a byte of it leaves. If the sink cannot keep the record, the reply is replaced by
 * `503 gateway.unavailable`: nothing is served unrecorded.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { problem, problemBody } from '../../core/errors.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import { noteReceived, noteRefusal, toRecord, unrecordable, type TransactionContext } from '../pipeline/record.js'
import type { TransactionRecord } from '../txlog/record.js'
import type { TransactionSink } from '../txlog/sink.js'
import { openRequestTransaction } from '../http/open-transaction.js'
import { replying } from '../http/socket-heads.js'
import { isV1, isV1Path } from '../http/v1-target.js'

export interface TransactionsOptions {
  readonly sink: TransactionSink
  readonly pseudonymizer: Pseudonymizer
  /** Called with every record kept (metrics). */
  readonly onRecord?: (record: TransactionRecord) => void
}

function payloadBytes (payload: unknown): number {
  if (typeof payload === 'string') return Buffer.byteLength(payload)
  if (Buffer.isBuffer(payload)) return payload.length
  return 0
}

export default fp<TransactionsOptions>(async function transactions (app: FastifyInstance, opts) {
  app.decorateRequest('txn', undefined)

  // Callback-style hooks on the hot path: no promise per request where nothing is awaited.
  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    // Whatever the spelling, a request the router sends to /v1 is a transaction.
    const v1 = isV1Path(req.url) || req.routeOptions.url?.startsWith('/v1') === true || isV1(req.url)
    if (v1) openRequestTransaction(req, reply)
    // Node's own refusal of this is an unrecorded bare 400 (requireHostHeader is off in
    // http/server-options.ts for that).
    if (req.raw.headers.host === undefined && req.raw.httpVersionMajor === 1 && req.raw.httpVersionMinor === 1) {
      return done(problem('request.invalid', 'An HTTP/1.1 request must carry a Host header'))
    }
    done()
  })

  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    // Charged with a parser error or timeout on its connection: recorded then, and this reply never arrives.
    const refused = replying(req.raw)
    if (refused !== true) {
      req.txn = undefined
      await refused
      return payload
    }
    const txn = req.txn
    if (txn === undefined) return payload
    noteReceived(txn, req.rawBody?.length ?? 0)
    const record = toRecord(txn, reply.statusCode, payloadBytes(payload), opts.pseudonymizer)
    try {
      await opts.sink.append(record)
    } catch (err) {
      req.log.error({ err, txn: txn.id }, 'transaction record could not be kept; reply withheld')
      noteRefusal(txn, 'gateway.unavailable')
      reply.code(503).type('application/problem+json; charset=utf-8').header('cache-control', 'no-store')
        .header('retry-after', '1')
      return JSON.stringify(problemBody(unrecordable(), txn.id))
    }
    // After the record is kept, not inside its try: a metrics failure must not turn a recorded reply into an
    // unrecorded 503.
    try { opts.onRecord?.(record) } catch (err) { req.log.warn({ err, txn: txn.id }, 'metrics for a record failed') }
    return payload
  })

  app.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const txn = req.txn
    const log = req.log as unknown as { isLevelEnabled?: (l: string) => boolean }
    if (txn !== undefined && log.isLevelEnabled?.('info') !== false) logTransaction(req, reply, txn)
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
