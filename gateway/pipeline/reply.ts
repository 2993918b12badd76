/**
 * Step 7, reply: the answer and its `meta`, serialized against the operation's canonical schema (compiled
 * once per configuration, so nothing undeclared can leave), never cached by intermediaries.
 */
import type { FastifyReply } from 'fastify'
import type { CompiledOperation } from '../runtime/runtime.js'

/** What an operation call served: the filtered data, and where and when its records came from. */
export interface Served {
  readonly data: Record<string, unknown>
  readonly source: 'upstream' | 'reuse'
  /** When the oldest record used was provided by its registry, to the minute. */
  readonly retrievedAt: string
  readonly stale: boolean
}

export function replyWith (reply: FastifyReply, op: CompiledOperation, transactionId: string, served: Served): string {
  const meta = {
    transactionId,
    service: op.service.service,
    operation: op.spec.id,
    source: served.source,
    retrievedAt: served.retrievedAt,
    stale: served.stale,
  }
  reply.code(200).header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store')
  return op.serialize({ data: served.data, meta })
}

/**
 * `meta.retrievedAt` to the minute, rounded down: a kept record's exact fetch time would tell every grantee
 * when another agency looked the person up (README, security). Rounding down never makes data look fresher.
 */
export function toMinute (iso: string): string {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? `${iso.slice(0, 16)}:00.000Z` : iso
}
