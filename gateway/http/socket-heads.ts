/**
 * Per-connection bookkeeping for requests Node's HTTP parser refuses or times out (CONTRACT §7 v1.1: every
 * request with a /v1 target is a transaction, even one whose head was never complete). A parser error only
 * carries the last TCP segment (`err.rawPacket`) and a timeout carries nothing, so each connection keeps:
 * the first bytes of the head being read (only while it is incomplete), and the request dispatched on it
 * whose reply has not started (the transaction a parser error or timeout must be charged to).
 *
 * Cost on the normal path: one field comparison per TCP segment read, three field writes per request; bytes
 * are copied only for segments that end inside a head.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Socket } from 'node:net'
import type { TransactionContext } from '../pipeline/record.js'

/** How much of a head is kept: enough for the method and the start of the target, never the whole head. */
export const HEAD_PREFIX_BYTES = 1024

const kHead = Symbol('ndx.socketHead')

/** What one connection knows of the request it is reading or serving. */
export class SocketHead {
  /** The first bytes of the head being read, from its first byte; null once a head completed in a segment. */
  prefix: Buffer | null = null
  /** The request dispatched on this connection whose reply has not started, with its id and transaction. */
  request: IncomingMessage | null = null
  id = ''
  txn: TransactionContext | null = null
  /** A request a parser error or timeout was charged to: its own reply must not record it again. */
  refused: IncomingMessage | null = null
  closed: Promise<void> | null = null
  /** Answered on the raw socket already: the parser reports its error again for every segment that follows. */
  answered = false
  // The parser's current message when the last segment was read: a change means a head completed or a
  // message ended within the segment, so where the next head starts in it is unknown.
  seen: IncomingMessage | null = null
  seenComplete = false
}

interface NodeParser {
  incoming: IncomingMessage | null
  getCurrentBuffer (): Buffer
  constructor: { kOnExecute?: unknown }
  [key: number]: unknown
}

type Headed = Socket & { [kHead]?: SocketHead, parser?: NodeParser | null }

/** The bookkeeping of a connection, if it is watched. */
export function headOf (socket: Socket | null | undefined): SocketHead | undefined {
  return (socket as Headed | null | undefined)?.[kHead]
}

function observe (st: SocketHead, parser: NodeParser): void {
  // Node may drop its reference to a finished message between segments: only a message it is parsing counts.
  const inc = parser.incoming
  if (inc !== null) {
    const complete = inc.complete
    if (inc !== st.seen || complete !== st.seenComplete) {
      st.seen = inc
      st.seenComplete = complete
      st.prefix = null
      return
    }
    // Inside a body: nothing to keep.
    if (!complete) return
  }
  // Inside a head (none parsed yet, or the last message ended): keep its start.
  const kept = st.prefix?.length ?? 0
  if (kept >= HEAD_PREFIX_BYTES) return
  const chunk = parser.getCurrentBuffer()
  const take = chunk.subarray(0, HEAD_PREFIX_BYTES - kept)
  st.prefix = st.prefix === null ? Buffer.from(take) : Buffer.concat([st.prefix, take])
}

/** Whether the connection is inside the body of a request whose reply has already started. */
export function inAnsweredBody (st: SocketHead): boolean {
  return st.seen !== null && !st.seenComplete && st.request !== st.seen
}

/**
 * Starts watching a connection. Node's parser reads the socket natively and calls back once per segment
 * (`kOnExecute`), after parsing it and before reporting a parse error: the hook sees each segment then. If
 * Node's internals are not as expected, nothing is watched and parse errors fall back to `err.rawPacket`.
 */
function watch (socket: Headed): void {
  const parser = socket.parser
  const key = parser?.constructor.kOnExecute
  if (parser == null || typeof key !== 'number' || typeof parser[key] !== 'function') return
  const st = new SocketHead()
  st.seen = parser.incoming
  st.seenComplete = parser.incoming?.complete === true
  socket[kHead] = st
  // Node calls it with one argument (the parse result); no rest array, it runs for every segment read.
  const original = parser[key] as (ret: unknown) => unknown
  parser[key] = (ret: unknown): unknown => {
    observe(st, parser)
    return original(ret)
  }
}

/** Watches every connection of `server` (added after Node's own connection listener, which sets the parser). */
export function watchHeads (server: Server): void {
  server.on('connection', watch)
}

/** A request was dispatched: until its reply starts, a parser error or timeout on its connection is its own. */
export function dispatched (raw: IncomingMessage, id: string): string {
  const st = headOf(raw.socket)
  if (st !== undefined) {
    st.request = raw
    st.id = id
    st.txn = null
  }
  return id
}

/** The request's transaction was opened. */
export function opened (raw: IncomingMessage, txn: TransactionContext): void {
  const st = headOf(raw.socket)
  if (st?.request === raw) st.txn = txn
}

/**
 * The request's reply is starting (its record is being written): a later parser error on the connection is
 * another request's. Returns true, or, when the request was already charged with a parser error or timeout
 * (and so recorded, and answered on the raw socket), a promise of the connection's end: its reply must not
 * record it again, and must not be written before that answer.
 */
export function replying (raw: IncomingMessage): true | Promise<void> {
  const st = headOf(raw.socket)
  if (st === undefined) return true
  if (st.refused === raw && st.closed !== null) return st.closed
  if (st.request === raw) st.request = null
  return true
}

/** Takes the request in flight on a connection (if any) for a parser error or timeout to be charged to. */
export function takeInFlight (
  socket: Socket, st: SocketHead | undefined
): { raw: IncomingMessage, id: string, txn: TransactionContext | null } | null {
  if (st === undefined || st.request === null) return null
  const raw = st.request
  st.request = null
  st.refused = raw
  st.closed = new Promise((resolve) => socket.once('close', () => resolve()))
  return { raw, id: st.id, txn: st.txn }
}
