/**
 * Fastify's and Node's HTTP settings for the gateway, and the handlers for what never reaches a route:
 * Node's timeouts bound how long a head or body may take (a client that stops mid-request is answered 400
 * and recorded by client-errors.ts instead of holding the socket); a target the router cannot decode is
 * refused and recorded here; Node's bare, unrecorded 400 for a missing Host is left to the record step.
 */
import type { Server, ServerOptions } from 'node:http'
import {
  LogController, type FastifyHttpOptions, type FastifyReply, type FastifyRequest, type FastifyServerOptions,
} from 'fastify'
import type { GatewayConfig } from '../../core/config-types.js'
import { transactionId } from '../../core/ids.js'
import { problem, problemBody } from '../../core/errors.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import { noteRefusal, toRecord, unrecordable } from '../pipeline/record.js'
import { openRequestTransaction } from './open-transaction.js'
import { sendProblem } from './problem-reply.js'
import type { TransactionSink } from '../txlog/sink.js'
import { clientErrorHandler } from './client-errors.js'
import { dispatched, replying } from './socket-heads.js'
import { isV1 } from './v1-target.js'

export interface ServerParts {
  readonly config: GatewayConfig
  /** The process's logger, or false for none. */
  readonly logger: FastifyServerOptions['loggerInstance'] | false
  readonly trustProxy: number | string | false
  readonly sink: TransactionSink
  readonly pseudonymizer: Pseudonymizer
  /** A record could not be kept: the reply is a 503 instead. */
  readonly onLost: (err: unknown, txn: string) => void
}

function httpOptions (limits: GatewayConfig['gateway']['limits']): ServerOptions {
  const ms = limits.requestTimeoutMs
  // Node checks its timeouts on this interval (30 s by default): a quarter of the limit keeps overshoot small.
  const checkEvery = Math.max(50, Math.min(30_000, Math.floor(ms / 4)))
  return { requireHostHeader: false, headersTimeout: Math.min(60_000, ms), connectionsCheckingInterval: checkEvery }
}

/** A hop count becomes proxy-addr's "trust the first n hops" function (fastify's types omit the number form). */
function trustedProxies (trust: number | string | false): string | boolean | ((addr: string, hop: number) => boolean) {
  return typeof trust === 'number' ? (_addr, hop) => hop < trust : trust
}

export function serverOptions (parts: ServerParts): FastifyHttpOptions<Server> {
  const { config } = parts
  return {
    ...(parts.logger === false ? { logger: false } : { loggerInstance: parts.logger }),
    // Fastify's own request lines carry the raw URL (personal ids); the transaction plugin logs instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.gateway.limits.bodyBytes,
    exposeHeadRoutes: false,
    // Off: fastify's own reply is plain JSON and unrecorded; plugins/shed.ts refuses with problem+json.
    return503OnClosing: false,
    // The id is noted on the connection: a parser error or timeout there before the reply is this request's.
    genReqId: (raw) => dispatched(raw, transactionId()),
    requestTimeout: config.gateway.limits.requestTimeoutMs,
    http: httpOptions(config.gateway.limits),
    clientErrorHandler: clientErrorHandler(parts),
    frameworkErrors: undecodableTarget(parts),
    routerOptions: { maxParamLength: 256 },
    // Only then does req.ip come from X-Forwarded-For: otherwise any client could pick its own address.
    trustProxy: trustedProxies(parts.trustProxy),
  }
}

/**
 * A target the router cannot decode (bad percent-encoding) fails before the hooks run and outside the error
 * handler (no onSend either): it is opened as a transaction here, refused like any invalid request, and its
 * record kept before the reply goes, as onSend would.
 */
function undecodableTarget (parts: ServerParts): NonNullable<FastifyServerOptions['frameworkErrors']> {
  return (_err, rawReq, rawReply) => {
    const req = rawReq as FastifyRequest
    const reply = rawReply as unknown as FastifyReply
    const gerr = problem('request.invalid', 'The request target is not valid percent-encoding',
      { errors: [{ in: 'path', name: 'target', reason: 'malformed percent-encoding' }] })
    if (!isV1(req.url)) {
      sendProblem(req, reply, gerr)
      return
    }
    const txn = openRequestTransaction(req, reply)
    noteRefusal(txn, gerr.code)
    const body = JSON.stringify(problemBody(gerr, txn.id))
    // Recorded here: the hook must not record it a second time if it ever runs.
    req.txn = undefined
    if (replying(req.raw) !== true) return
    const send = (status: number, text: string): void => {
      void reply.code(status).type('application/problem+json; charset=utf-8').header('cache-control', 'no-store')
        .send(text)
    }
    const record = toRecord(txn, gerr.status, Buffer.byteLength(body), parts.pseudonymizer)
    parts.sink.append(record).then(() => send(gerr.status, body), (err: unknown) => {
      parts.onLost(err, txn.id)
      send(503, JSON.stringify(problemBody(unrecordable(), txn.id)))
    })
  }
}
