/**
 * Per-agency quotas (`quota.perMinute`): fixed one-minute windows, counted in Redis so every instance
 * shares one count (in process when standalone). If Redis does not answer, each instance counts locally
 * until it does — a quota is a guard against overload, not a reason to refuse everyone.
 */
import type { Redis } from 'ioredis'

export interface QuotaDecision {
  readonly allowed: boolean
  /** Seconds until the window resets (for Retry-After). */
  readonly retryAfterSeconds: number
}

export interface QuotaLimiter {
  take (agency: string, perMinute: number, now?: number): Promise<QuotaDecision>
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
      const count = Number(await this.#redis.ndxQuotaTake(`${this.#prefix}${agency}:${window}`, String(WINDOW_MS + 5000)))
      return decision(count, perMinute, now)
    } catch {
      return this.#local.takeSync(agency, perMinute, now)
    }
  }

  async close (): Promise<void> {}
}
