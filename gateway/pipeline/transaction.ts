/**
 * What the gateway learns about a /v1 request while serving it. The request path fills it in step by step;
 * the transaction-log plugin turns it into a `TransactionRecord` (pseudonymising subject and sub) before
 * the reply leaves.
 */
import type { AuthProgress } from '../auth/authenticate.js'

export interface TransactionContext extends AuthProgress {
  readonly id: string
  readonly startedAt: number
  readonly time: string
  readonly method: string
  service: string | null
  operation: string | null
  route: string | null
  /** The raw subject: pseudonymised when recorded, never logged. */
  subject: string | null
  source: 'upstream' | 'reuse' | null
  fields: string[] | null
  upstreamMs: number | null
  requestBytes: number
  code: string | null
  /** The `iss` of a token that did not verify (the record's `client` stays null). */
  claimedClient: string | null
  /** How the jti was guarded: `shared` (Redis), `local` (in-process while Redis is down), null if not reached. */
  replayGuard: 'shared' | 'local' | null
  /** A kept record served past its reuse window (registry unreachable). */
  stale: boolean
}

export function newTransaction (id: string, method: string, now = Date.now()): TransactionContext {
  return {
    id,
    startedAt: performance.now(),
    time: new Date(now).toISOString(),
    method,
    client: null,
    keyId: null,
    purpose: null,
    onBehalfOf: null,
    service: null,
    operation: null,
    route: null,
    subject: null,
    source: null,
    fields: null,
    upstreamMs: null,
    requestBytes: 0,
    code: null,
    claimedClient: null,
    replayGuard: null,
    stale: false,
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Present on /v1 requests only. */
    txn: TransactionContext | undefined
    /** The raw request body, for the token's bsh binding. */
    rawBody: Buffer | undefined
  }
}
