/**
 * The "record" step: every /v1 request gets a transaction id when it arrives, and exactly one transaction
 * record, handed to the sink in onSend — after the reply is final, before a byte of it leaves. If the sink
 * cannot keep the record, the reply is replaced by `503 gateway.unavailable`: nothing is served unrecorded.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { problem, problemBody } from '../../core/errors.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import { newTransaction, type TransactionContext } from '../pipeline/transaction.js'
import { outcomeOf, type TransactionRecord } from '../txlog/record.js'
import type { TransactionSink } from '../txlog/sink.js'
import { opened, replying } from '../http/socket-heads.js'

export interface TransactionsOptions {
  readonly sink: () => TransactionSink
  readonly pseudonymizer: () => Pseudonymizer
  /** Called with every record kept (metrics). */
  readonly onRecord?: (record: TransactionRecord) => void
}

function isV1Path (url: string): boolean {
  return url.startsWith('/v1/') || url === '/v1' || url.startsWith('/v1?')
}

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i

/**
 * Whether a request target is in the /v1 space in any spelling: origin-form, absolute-form
 * (`http://host/v1/...`) or with a percent-encoded prefix (`/%76%31/...`), which the router serves as /v1.
 */
export function isV1 (url: string): boolean {
  if (isV1Path(url)) return true
  let path = url
  const absolute = ABSOLUTE_FORM.exec(path)
  if (absolute !== null) path = path.slice(absolute[0].length)
  if (path.includes('%')) {
    path = path.slice(0, 16).replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
  }
  return path !== url && isV1Path(path)
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
    // The iss of a token that never verified: never the record's client (CONTRACT §7 v1.1).
    claimedClient: txn.client === null ? txn.claimedClient : null,
    replayGuard: txn.replayGuard,
    stale: status >= 200 && status < 300 && txn.stale,
  }
}

const REQUEST_LINE = /^(?:\r?\n){0,2}([!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}) (\S{1,2048})([ \t\r\n]?)/

/**
 * The method of the request line at the start of `raw` (a head's first bytes, or what a parser error left)
 * and whether its target is in the /v1 space, or null. Only the method and the first token of the target
 * are read: the rest of the line may be what broke the parse. The target may be cut short (only the
 * head's start is kept): an unterminated one counts as /v1 only if it does without its last character, so
 * `/v1` cut off before `x` is not taken for /v1.
 */
export function requestLine (raw: Buffer | undefined): { method: string, v1: boolean } | null {
  if (raw === undefined) return null
  const m = REQUEST_LINE.exec(raw.subarray(0, 2100).toString('latin1'))
  if (m === null) return null
  const target = m[2] as string
  return { method: m[1] as string, v1: m[3] === '' ? isV1(target.slice(0, -1)) : isV1(target) }
}

/** The record of a request refused before it was parsed: only what the gateway saw is known. */
export function unparsedRecord (
  id: string, method: string, status: number, code: string, responseBytes: number, startedAt: number,
): TransactionRecord {
  return {
    id, time: new Date().toISOString(), client: null, keyId: null, service: null, operation: null, method, route: null,
    purpose: null, subjectRef: null, onBehalfOf: null, outcome: outcomeOf(status, code), status, code, source: null,
    fields: null, durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000, upstreamMs: null,
    requestBytes: 0, responseBytes,
    claimedClient: null, replayGuard: null, stale: false,
  }
}

/** Opens a /v1 request's transaction: the request id is the transaction id, sent back as X-Transaction-Id. */
export function openTransaction (req: FastifyRequest, reply: FastifyReply): void {
  const txn = newTransaction(req.id, req.method)
  req.txn = txn
  opened(req.raw, txn)
  reply.header('x-transaction-id', txn.id)
}

export default fp<TransactionsOptions>(async function transactions (app: FastifyInstance, opts) {
  app.decorateRequest('txn', undefined)

  // Callback-style hooks on the hot path: no promise per request where nothing is awaited.
  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    // Whatever the spelling, a request the router sends to /v1 is a transaction.
    const v1 = isV1Path(req.url) || req.routeOptions.url?.startsWith('/v1') === true || isV1(req.url)
    if (v1) openTransaction(req, reply)
    // Node's own refusal of this is an unrecorded bare 400 (requireHostHeader is off in app.ts for that).
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
    // Bytes received, never the declared Content-Length: a client must not choose a record's values.
    txn.requestBytes = req.rawBody?.length ?? 0
    const record = toRecord(txn, reply.statusCode, payloadBytes(payload), opts.pseudonymizer())
    try {
      await opts.sink().append(record)
    } catch (err) {
      req.log.error({ err, txn: txn.id }, 'transaction record could not be kept; reply withheld')
      txn.code = 'gateway.unavailable'
      reply.code(503).type('application/problem+json; charset=utf-8').header('cache-control', 'no-store').header('retry-after', '1')
      return JSON.stringify(problemBody(problem('gateway.unavailable', 'The gateway cannot record transactions now; try again shortly'), txn.id))
    }
    // After the record is kept, not inside its try: a metrics failure must not turn a recorded reply into an
    // unrecorded 503.
    try { opts.onRecord?.(record) } catch (err) { req.log.warn({ err, txn: txn.id }, 'metrics for a record failed') }
    return payload
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
