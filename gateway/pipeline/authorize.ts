/**
 * Step 3, authorize: what the caller may do, and how much of it (CONTRACT §2 grants, §4, §5).
 * - A request refused before any agency was identified counts against its source address
 *   (`quota.unauthenticatedPerMinute`): past it, the refusal is 429 instead.
 * - An identified agency spends its quota (`quota.perMinute`), then needs the role a built-in route
 *   declares, or, for an operation, the consumer role, the operation's grant and a granted purpose.
 * - The input is validated, and the fields asked for (or, for a verification, claimed) must be granted.
 * - A verification takes a slot of the failed-verification budget for its subject before it is answered.
 * Every check here runs before any record is read or reused, so an agency without the grant never learns
 * whether a record exists or is kept.
 */
import type { FastifyRequest } from 'fastify'
import { GatewayError, problem } from '../../core/errors.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import { authorizeOperation, checkClaims, requireRole, selectFields } from '../access/access.js'
import type { QuotaLimiter } from '../access/quota.js'
import type { VerifyBudgetGate } from '../access/verify-budget.js'
import type { Caller } from '../auth/authenticate.js'
import type { BuiltinRoute, CompiledOperation, Runtime } from '../runtime/runtime.js'
import { readInput, type ParsedInput } from './input.js'

/** The counters authorization spends: shared across instances through Redis, or in process. */
export interface AccessGates {
  readonly quota: QuotaLimiter
  /** The failed-verification budget (CONTRACT §5 v1.1); without it, verifications are not budgeted. */
  readonly verifyBudget?: VerifyBudgetGate
  /** Names a source address in its counter's key (a bare hash of an IPv4 address is reversed by trying all). */
  readonly pseudonymizer: Pseudonymizer
  readonly onUnverifiedRefused?: () => void
}

/** What a caller asks of one operation: a single call's request, or one item of a batch (CONTRACT §10). */
export interface OperationCall {
  readonly pathParams: Record<string, string>
  readonly query: Record<string, string>
  readonly body: unknown
  readonly contentType: string | undefined
  /** The caller's W3C trace context, continued to the registry. */
  readonly traceparent?: string | string[] | undefined
}

/** What an authorized call may have: its validated input and the fields its reply may hold. */
export interface Access {
  readonly input: ParsedInput
  /** The fields the reply holds; null for a verification, whose claims were checked instead. */
  readonly fields: readonly string[] | null
}

/** Refusals that come before the caller is identified: the token could not be tied to an agency's key. */
const UNIDENTIFIED: ReadonlySet<string> = new Set([
  'auth.missing', 'auth.malformed', 'auth.unknown_client', 'auth.unknown_key', 'auth.algorithm', 'auth.signature',
])

/**
 * Counts a refusal of verification against the request's source address; throws 429 past the bound. Runs
 * only on refusals, so requests that verify never pay for it.
 */
export async function admitUnverified (
  gates: AccessGates, req: FastifyRequest, err: unknown, runtime: Runtime
): Promise<void> {
  if (!(err instanceof GatewayError) || !UNIDENTIFIED.has(err.code)) return
  const perMinute = runtime.config.gateway.quota.unauthenticatedPerMinute
  const address = gates.pseudonymizer.of('key', req.ip ?? '')
  const d = await gates.quota.take(`anon:${address}`, perMinute)
  if (d.allowed) return
  gates.onUnverifiedRefused?.()
  throw problem('quota.exceeded', `More than ${perMinute} unverifiable requests per minute from this address`, {
    headers: { 'retry-after': String(d.retryAfterSeconds) },
  })
}

/** Admits an identified caller under its agency's quota, or refuses with 429 and Retry-After. */
export async function admitCaller (gates: AccessGates, caller: Caller): Promise<void> {
  const quota = caller.agency.spec.quota
  if (quota === null) return
  const d = await gates.quota.take(caller.agency.spec.id, quota.perMinute)
  if (!d.allowed) {
    throw problem('quota.exceeded', `Quota of ${quota.perMinute} requests per minute reached`, {
      headers: { 'retry-after': String(d.retryAfterSeconds) },
    })
  }
}

/** A built-in route's role, when it declares one. */
export function authorizeRoute (caller: Caller, route: BuiltinRoute): void {
  if (route.role !== undefined) requireRole(caller, route.role)
}

/** Role, grant and purpose; then the input; then the fields asked for, or the claims made. */
export function authorizeCall (caller: Caller, op: CompiledOperation, call: OperationCall): Access {
  const grant = authorizeOperation(caller, op)
  const input = readInput(op, call.pathParams, call.query, call.body, call.contentType)
  if (op.shape.fieldsApplyTo === 'response') return { input, fields: selectFields(op, grant, input.fields) }
  checkClaims(op, grant, input.body as Record<string, unknown>)
  return { input, fields: null }
}

/**
 * A verification takes a slot of its (agency, subject) budget before it is answered; the returned function
 * gives it back when every claim matched. Null when nothing was taken (not a verification, or no budget).
 */
export async function spendVerification (
  gates: AccessGates, caller: Caller, access: Access, runtime: Runtime
): Promise<(() => Promise<void>) | null> {
  if (access.fields !== null || gates.verifyBudget === undefined) return null
  return gates.verifyBudget(caller, access.input.subject, runtime)
}
