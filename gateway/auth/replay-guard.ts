/**
 * The replay guard: remembers each (iss, jti) until no token carrying it could still be accepted.
 *
 * Contract: `remember` resolves true the first time a pair is seen and false on every later call within
 * `ttlSeconds`. Two implementations pass the same conformance tests: in-process (standalone) and Redis
 * (shared by every instance). The Redis guard also remembers locally, so while Redis does not answer it
 * still refuses replays to this instance instead of failing every request.
 */
import type { Redis } from 'ioredis'

export interface ReplayGuard {
  /** True when (iss, jti) is new; false when it was seen within its ttl. */
  remember (iss: string, jti: string, ttlSeconds: number): Promise<boolean>
  close (): Promise<void>
}

export class MemoryReplayGuard implements ReplayGuard {
  readonly #seen = new Map<string, number>()
  readonly #timer: NodeJS.Timeout

  constructor (sweepMs = 10_000) {
    this.#timer = setInterval(() => this.sweep(), sweepMs).unref()
  }

  /** Synchronous core, shared with the Redis guard's local memory. */
  rememberSync (iss: string, jti: string, ttlSeconds: number, now = Date.now()): boolean {
    const key = `${iss}\0${jti}`
    const until = this.#seen.get(key)
    if (until !== undefined && until > now) return false
    this.#seen.set(key, now + ttlSeconds * 1000)
    return true
  }

  async remember (iss: string, jti: string, ttlSeconds: number): Promise<boolean> {
    return this.rememberSync(iss, jti, ttlSeconds)
  }

  sweep (now = Date.now()): void {
    for (const [key, until] of this.#seen) if (until <= now) this.#seen.delete(key)
  }

  get size (): number {
    return this.#seen.size
  }

  async close (): Promise<void> {
    clearInterval(this.#timer)
  }
}

export class RedisReplayGuard implements ReplayGuard {
  readonly #redis: Redis
  readonly #prefix: string
  readonly #local = new MemoryReplayGuard()
  /** Called when Redis cannot answer and the local memory decided alone. */
  readonly #onDegraded: (err: unknown) => void

  constructor (redis: Redis, keyPrefix: string, onDegraded: (err: unknown) => void = () => {}) {
    this.#redis = redis
    this.#prefix = `${keyPrefix}jti:`
    this.#onDegraded = onDegraded
  }

  async remember (iss: string, jti: string, ttlSeconds: number): Promise<boolean> {
    if (!this.#local.rememberSync(iss, jti, ttlSeconds)) return false
    try {
      const set = await this.#redis.set(`${this.#prefix}${iss}:${jti}`, '1', 'EX', ttlSeconds, 'NX')
      return set === 'OK'
    } catch (err) {
      this.#onDegraded(err)
      return true
    }
  }

  async close (): Promise<void> {
    await this.#local.close()
  }
}
