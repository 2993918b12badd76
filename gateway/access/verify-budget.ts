/**
 * The budget of failed verifications (CONTRACT §5 v1.1): booleans must not become an oracle. Each
 * verification takes a slot of its (agency, subject) budget for the UTC day *before* it is answered, and
 * gives it back when every claim matched; so a burst of parallel guesses gets at most `max` answers, and
 * whether a refusal comes does not depend on the answer it withholds. Counted in Redis (every instance
 * shares one count; in process when standalone, or while Redis does not answer). Keys hold the subject's
 * pseudonym, never the raw id.
 */
import type { Redis } from 'ioredis'
import { problem } from '../../core/errors.js'
import type { Caller } from '../auth/authenticate.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import type { Runtime } from '../runtime/runtime.js'

export interface BudgetDecision {
  readonly allowed: boolean
  /** Seconds until the UTC day rolls over (for Retry-After). */
  readonly retryAfterSeconds: number
}

export interface VerifyBudget {
  /** Takes one slot of `key`'s budget for today; not allowed once `max` slots are taken. */
  take (key: string, max: number, now?: number): Promise<BudgetDecision>
  /** Gives a slot taken by `take` (at `now`, same day) back: that verification did not fail. */
  refund (key: string, now: number): Promise<void>
}

const DAY_MS = 86_400_000

function decision (count: number, max: number, now: number): BudgetDecision {
  const end = (Math.floor(now / DAY_MS) + 1) * DAY_MS
  return { allowed: count <= max, retryAfterSeconds: Math.max(1, Math.ceil((end - now) / 1000)) }
}

export class MemoryVerifyBudget implements VerifyBudget {
  #day = -1
  readonly #counts = new Map<string, number>()

  #roll (now: number): void {
    const day = Math.floor(now / DAY_MS)
    if (day !== this.#day) {
      this.#counts.clear()
      this.#day = day
    }
  }

  takeSync (key: string, max: number, now = Date.now()): BudgetDecision {
    this.#roll(now)
    const count = (this.#counts.get(key) ?? 0) + 1
    this.#counts.set(key, count)
    return decision(count, max, now)
  }

  refundSync (key: string, now: number): void {
    if (Math.floor(now / DAY_MS) !== this.#day) return
    const count = this.#counts.get(key)
    if (count !== undefined) this.#counts.set(key, count - 1)
  }

  async take (key: string, max: number, now = Date.now()): Promise<BudgetDecision> {
    return this.takeSync(key, max, now)
  }

  async refund (key: string, now: number): Promise<void> {
    this.refundSync(key, now)
  }
}

const TAKE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
return n`
// Only an existing key: a refund after the key expired must not leave a count without an expiry.
const REFUND = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0`

type WithBudget = Redis & {
  ndxBudgetTake (key: string, expireAt: string): Promise<number>
  ndxBudgetRefund (key: string): Promise<number>
}

export class RedisVerifyBudget implements VerifyBudget {
  readonly #redis: WithBudget
  readonly #prefix: string
  readonly #local = new MemoryVerifyBudget()

  constructor (redis: Redis, keyPrefix: string) {
    const r = redis as WithBudget
    if (typeof r.ndxBudgetTake !== 'function') {
      redis.defineCommand('ndxBudgetTake', { numberOfKeys: 1, lua: TAKE })
      redis.defineCommand('ndxBudgetRefund', { numberOfKeys: 1, lua: REFUND })
    }
    this.#redis = r
    this.#prefix = `${keyPrefix}vbudget:`
  }

  #key (key: string, now: number): string {
    return `${this.#prefix}${Math.floor(now / DAY_MS)}:${key}`
  }

  async take (key: string, max: number, now = Date.now()): Promise<BudgetDecision> {
    const expireAt = (Math.floor(now / DAY_MS) + 1) * DAY_MS + 60_000
    try {
      return decision(Number(await this.#redis.ndxBudgetTake(this.#key(key, now), String(expireAt))), max, now)
    } catch {
      // Redis away: this instance counts alone (the budget then holds per instance, not across them).
      return this.#local.takeSync(key, max, now)
    }
  }

  async refund (key: string, now: number): Promise<void> {
    try {
      await this.#redis.ndxBudgetRefund(this.#key(key, now))
    } catch {
      this.#local.refundSync(key, now)
    }
  }
}

/** What the request path and batch items call before a verification is answered; see `verifyBudgetGate`. */
export type VerifyBudgetGate = (caller: Caller, subject: string, runtime: Runtime) => Promise<() => Promise<void>>

/**
 * The failed-verification budget (CONTRACT §5 v1.1), keyed by agency and the subject's pseudonym: takes a slot
 * (or refuses with 429 quota.exceeded) and returns what gives it back when every claim matched.
 */
export function verifyBudgetGate (
  budget: VerifyBudget, pseudonymizer: Pseudonymizer, metrics?: { verifyBudgetExhausted (): void }
): VerifyBudgetGate {
  return async (caller, subject, runtime) => {
    const max = runtime.config.gateway.verify.maxFailedPerSubjectPerDay
    const key = `${caller.agency.spec.id}:${pseudonymizer.of('key', subject)}`
    const now = Date.now()
    const d = await budget.take(key, max, now)
    if (!d.allowed) {
      metrics?.verifyBudgetExhausted()
      throw problem('quota.exceeded', `More than ${max} failed verifications of this subject today`, {
        headers: { 'retry-after': String(d.retryAfterSeconds) },
      })
    }
    return () => budget.refund(key, now)
  }
}
