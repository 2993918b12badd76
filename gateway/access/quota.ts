/**
 * Per-agency quotas (`quota.perMinute`): fixed one-minute windows, counted in Redis so every instance
 * shares one count (in process when standalone). If Redis does not answer, each instance counts locally
 * until it does — a quota is a guard against overload, not a reason to refuse everyone.
 */
import type { Redis } from 'ioredis'

export interface QuotaDecision {
  readonly allowed: boolean
  /**
   * Whole seconds until the window ends, 1 to 60, on every decision: for a refusal, when the key is allowed
   * again (Retry-After).
   */
  readonly retryAfterSeconds: number
}

/**
 * The quota contract: how many requests a key (an agency, or a keyed pseudonym of an address) may make in
 * a fixed one-minute window of the clock. Implementations: `MemoryQuota` (one process) and `RedisQuota` (one
 * count for every instance sharing a Redis); both pass test/access/quota-conformance.test.ts.
 * Left out: sliding windows and bursts (a quota guards against overload, it does not shape traffic).
 */
export interface QuotaLimiter {
  /**
   * Counts one request for `key` in the minute holding `now` (the clock unless given: tests pass their own)
   * and decides it: allowed while that minute's count, this request included, is at most `perMinute`. Keys
   * are counted apart; the count starts again at each minute. Concurrent takes never admit more than
   * `perMinute` in a minute, however many limiters share the count.
   */
  take (key: string, perMinute: number, now?: number): Promise<QuotaDecision>
  /** Releases what the limiter holds; a Redis connection it was given stays open (the caller's). */
  close (): Promise<void>
}

const WINDOW_MS = 60_000

function decision (count: number, perMinute: number, now: number): QuotaDecision {
  const end = (Math.floor(now / WINDOW_MS) + 1) * WINDOW_MS
  return { allowed: count <= perMinute, retryAfterSeconds: Math.max(1, Math.ceil((end - now) / 1000)) }
}

export class MemoryQuota implements QuotaLimiter {
  readonly #counts = new Map<string, number>()
  #window = -1

  async take (agency: string, perMinute: number, now = Date.now()): Promise<QuotaDecision> {
    return this.takeSync(agency, perMinute, now)
  }

  takeSync (agency: string, perMinute: number, now = Date.now()): QuotaDecision {
    const window = Math.floor(now / WINDOW_MS)
    if (window !== this.#window) {
      this.#counts.clear()
      this.#window = window
    }
    const count = (this.#counts.get(agency) ?? 0) + 1
    this.#counts.set(agency, count)
    return decision(count, perMinute, now)
  }

  async close (): Promise<void> {}
}

const TAKE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`

type WithTake = Redis & { ndxQuotaTake (key: string, ttlMs: string): Promise<number> }

/** Registers the script once per connection (EVALSHA afterwards: the script text is not resent per request). */
function withTake (redis: Redis): WithTake {
  const r = redis as WithTake
  if (typeof r.ndxQuotaTake !== 'function') redis.defineCommand('ndxQuotaTake', { numberOfKeys: 1, lua: TAKE })
  return r
}

export class RedisQuota implements QuotaLimiter {
  readonly #redis: WithTake
  readonly #prefix: string
  readonly #local = new MemoryQuota()

  constructor (redis: Redis, keyPrefix: string) {
    this.#redis = withTake(redis)
    this.#prefix = `${keyPrefix}quota:`
  }

  async take (agency: string, perMinute: number, now = Date.now()): Promise<QuotaDecision> {
    const window = Math.floor(now / WINDOW_MS)
    try {
      const count = Number(
        await this.#redis.ndxQuotaTake(`${this.#prefix}${agency}:${window}`, String(WINDOW_MS + 5000))
      )
      return decision(count, perMinute, now)
    } catch {
      return this.#local.takeSync(agency, perMinute, now)
    }
  }

  async close (): Promise<void> {}
}
