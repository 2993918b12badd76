/**
 * Requests that never reach the app: Node's parser refuses them (bytes that are not HTTP, a head over the
 * limit), its timeouts cut them off (a head or body not received in time), or they ask for a tunnel
 * (CONNECT). Each gets a problem+json reply written on the raw socket; one with a /v1 target is still a
 * transaction (CONTRACT §7 v1.1): an id and one record of what can be known, kept before the reply is written.
 *
 * Which transaction: a request already dispatched on the connection and not yet replying is the one the
 * client gets this reply for (its reply never comes), so the error is charged to it and its reply will not
 * record it again. Otherwise the head being read is judged from its first bytes (see socket-heads.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { problem, problemBody, type GatewayError } from '../../core/errors.js'
import { transactionId } from '../../core/ids.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import { noteRefusal, toRecord, unparsedRecord, unrecordable } from '../pipeline/record.js'
import type { TransactionRecord } from '../txlog/record.js'
import type { TransactionSink } from '../txlog/sink.js'
import { headOf, inAnsweredBody, takeInFlight } from './socket-heads.js'
import { isV1, requestLine } from './v1-target.js'

export interface ClientErrorDeps {
  readonly sink: TransactionSink
  readonly pseudonymizer: Pseudonymizer
  /** A record could not be kept: the reply is a 503 instead. */
  readonly onLost: (err: unknown, txn: string) => void
}

type ParserError = Error & { code?: string, rawPacket?: unknown }

const STATUS_LINES: Readonly<Record<number, string>> = {
  400: '400 Bad Request', 405: '405 Method Not Allowed', 413: '413 Content Too Large', 503: '503 Service Unavailable',
}

/**
 * Runs `fn` once the reply Node is writing on the connection (an earlier request's, already recorded) is
 * finished, so the raw reply never lands inside it; not for the reply of the request charged with the error,
 * which waits for the connection to close (Node's own 400 looks at the same `_httpMessage`).
 */
function whenIdle (socket: Socket, fn: () => void, charged: IncomingMessage | null = null): void {
  const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  if (res == null || res.writableFinished || res.destroyed || res.req === charged) return fn()
  let ran = false
  const once = (): void => { if (!ran) { ran = true; fn() } }
  res.once('finish', once)
  res.once('close', once)
}

/** Writes a problem reply on the raw socket and closes it: what follows on the connection cannot be trusted. */
function sendRaw (socket: Socket, gerr: GatewayError, id: string | null, charged: IncomingMessage | null = null): void {
  whenIdle(socket, () => writeRaw(socket, gerr, id), charged)
}

function writeRaw (socket: Socket, gerr: GatewayError, id: string | null): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const text = JSON.stringify(problemBody(gerr, id))
  const txn = id === null ? '' : `X-Transaction-Id: ${id}\r\n`
  const retry = gerr.status === 503 ? 'Retry-After: 1\r\n' : ''
  socket.end(`HTTP/1.1 ${STATUS_LINES[gerr.status] ?? String(gerr.status)}\r\n` +
    'Content-Type: application/problem+json; charset=utf-8\r\nCache-Control: no-store\r\n' +
    `Content-Length: ${Buffer.byteLength(text)}\r\n${txn}${retry}Connection: close\r\n\r\n${text}`)
  socket.destroySoon()
}

/** Keeps the record (built from the reply's size), then replies; a record that cannot be kept means a 503. */
function recordThenSend (
  deps: ClientErrorDeps, socket: Socket, gerr: GatewayError, id: string,
  record: (responseBytes: number) => TransactionRecord, charged: IncomingMessage | null = null
): void {
  const bytes = Buffer.byteLength(JSON.stringify(problemBody(gerr, id)))
  let r: TransactionRecord
  try {
    r = record(bytes)
  } catch (err) {
    deps.onLost(err, id)
    return sendRaw(socket, unrecordable(), id, charged)
  }
  deps.sink.append(r).then(() => sendRaw(socket, gerr, id, charged), (err: unknown) => {
    deps.onLost(err, id)
    sendRaw(socket, unrecordable(), id, charged)
  })
}

/** A head over Node's limit is too large (413, CONTRACT §4: the contract has no 431); the rest is invalid. */
function refusalOf (err: ParserError, inFlight: boolean): GatewayError {
  if (err.code === 'HPE_HEADER_OVERFLOW') return problem('request.too_large', 'The request headers are too large')
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const what = inFlight ? 'The request body was not received in time' : 'The request was not received in time'
    return problem('request.invalid', what)
  }
  return problem('request.invalid', 'The request is not valid HTTP')
}

/** The server's `clientError` listener. */
export function clientErrorHandler (deps: ClientErrorDeps) {
  return (err: ParserError, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    const st = headOf(socket)
    if (st !== undefined) {
      if (st.answered) return
      st.answered = true
    }
    // A body still owed after its request was answered (and recorded): the client has its reply already,
    // and another one now would read as the reply to a next request. The connection is just closed.
    if (st !== undefined && err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && inAnsweredBody(st)) {
      return whenIdle(socket, () => socket.destroy())
    }
    const flight = takeInFlight(socket, st)
    const gerr = refusalOf(err, flight !== null)
    if (flight !== null) {
      const { raw, id, txn } = flight
      if (txn !== null) {
        noteRefusal(txn, gerr.code)
        const record = (bytes: number): TransactionRecord => toRecord(txn, gerr.status, bytes, deps.pseudonymizer)
        return recordThenSend(deps, socket, gerr, id, record, raw)
      }
      // Dispatched, its transaction not yet opened (a hook still pending): charged as it was seen.
      if (!isV1(raw.url ?? '')) return sendRaw(socket, gerr, null, raw)
      const started = performance.now()
      return recordThenSend(deps, socket, gerr, id,
        (bytes) => unparsedRecord(id, raw.method ?? 'GET', gerr.status, gerr.code, bytes, started), raw)
    }
    // The head being read: its first bytes if they were kept, else what the parser error carries.
    const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : undefined
    const line = requestLine(st?.prefix ?? raw) ?? (st?.prefix == null ? null : requestLine(raw))
    if (line === null || !line.v1) return sendRaw(socket, gerr, null)
    const id = transactionId()
    const started = performance.now()
    recordThenSend(deps, socket, gerr, id,
      (bytes) => unparsedRecord(id, line.method, gerr.status, gerr.code, bytes, started))
  }
}

/**
 * The server's `connect` listener. Without one Node destroys the socket unanswered; a gateway has no
 * tunnels, so CONNECT is refused (405), and recorded when its target is in /v1.
 */
export function connectHandler (deps: ClientErrorDeps) {
  return (req: IncomingMessage, socket: Socket): void => {
    const gerr = problem('route.method', 'CONNECT is not served here')
    socket.on('error', () => socket.destroy())
    if (!isV1(req.url ?? '')) return sendRaw(socket, gerr, null)
    const id = transactionId()
    const started = performance.now()
    recordThenSend(deps, socket, gerr, id,
      (bytes) => unparsedRecord(id, 'CONNECT', gerr.status, gerr.code, bytes, started))
  }
}
