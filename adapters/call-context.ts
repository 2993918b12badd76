/**
 * What a registry is told about the call it serves: the gateway's transaction id (as X-Road gives
 * providers a message id, so both sides' logs meet) and the W3C trace context. The request path runs each
 * registry load inside `withCallContext`; `Upstream` adds the headers, so every adapter sends them alike.
 *
 * A load shared by several requests (provide once) carries the context of the request that started it.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomBytes } from 'node:crypto'

export interface CallContext {
  readonly transactionId: string
  /** The `traceparent` to send: the caller's trace (or a new one), with the gateway's call as the parent. */
  readonly traceparent: string
}

const storage = new AsyncLocalStorage<CallContext>()

// W3C Trace Context level 1: version 00, a non-zero trace id and parent id, lower-case hex.
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** The trace id and flags of a valid incoming `traceparent`, or null (absent or malformed: start anew). */
export function parseTraceparent (value: string | string[] | undefined): { traceId: string, flags: string } | null {
  if (typeof value !== 'string') return null
  const m = TRACEPARENT.exec(value.trim())
  if (m === null || /^0+$/.test(m[1] as string) || /^0+$/.test(m[2] as string)) return null
  return { traceId: m[1] as string, flags: m[3] as string }
}

/** The traceparent for a registry call: the caller's trace continued, or a new sampled trace. */
export function childTraceparent (incoming: string | string[] | undefined): string {
  const parent = parseTraceparent(incoming)
  const traceId = parent?.traceId ?? randomBytes(16).toString('hex')
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${parent?.flags ?? '01'}`
}

export function withCallContext<T> (context: CallContext, fn: () => Promise<T>): Promise<T> {
  return storage.run(context, fn)
}

/** Headers for the registry call running now (none outside a request, e.g. a health probe). */
export function callHeaders (): Record<string, string> {
  const c = storage.getStore()
  if (c === undefined) return {}
  return { 'x-transaction-id': c.transactionId, 'x-request-id': c.transactionId, traceparent: c.traceparent }
}
