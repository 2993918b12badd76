/**
 * The replay guard: remembers each (iss, jti) until no token carrying it could still be accepted.
 *
 * Contract: `check` answers `fresh: true` the first time a pair is seen and `fresh: false` on every later
 * call within `ttlSeconds`, and says who decided (`shared`: Redis, for every instance; `local`: this
 * process's memory). Implementations: in-process (standalone, optionally journalled to disk so a restart
 * does not reopen a jti, see replay-journal.ts) and Redis (shared by every instance). The Redis guard keeps
 * a short local mirror, so while Redis does not answer it still refuses replays to this instance, and it
 * guards alone (`local`) or refuses (503) by the `replay.whenRedisDown` setting.
 */
import type { Redis } from 'ioredis'
import { problem } from '../errors.js'

/** The widest clock window any configuration may set (the schema's maximum `maxClockSkewSeconds`). */
export const MAX_CLOCK_SKEW_SECONDS = 600
/** Instances' clocks may disagree a little: a jti is kept this much longer than strictly needed. */
const CLOCK_MARGIN_SECONDS = 60

/**
 * How long a jti must be remembered: until no configuration could accept a token with this iat, whatever
 * `maxClockSkewSeconds` a later reload sets (CONTRACT §3 v1.1). Independent of the current configuration.
 */
export function retentionSeconds (iat: number, nowSeconds: number): number {
  return Math.max(1, Math.ceil(iat + MAX_CLOCK_SKEW_SECONDS + CLOCK_MARGIN_SECONDS - nowSeconds))
}

export type GuardedBy = 'shared' | 'local'

export interface ReplayCheck {
  /** How long to remember the pair: `retentionSeconds`. */
  readonly ttlSeconds: number
  /** How long the Redis guard's local mirror keeps it while Redis answers (memory, not safety); default ttl. */
  readonly mirrorSeconds?: number
  /** While Redis does not answer: guard in this process (`local`, the default) or refuse with 503. */
  readonly whenRedisDown?: 'local' | 'refuse'
}

export interface ReplayVerdict {
  readonly fresh: boolean
  readonly guard: GuardedBy
}

export interface ReplayGuard {
  check (iss: string, jti: string, opts: ReplayCheck): Promise<ReplayVerdict>
  /** True when (iss, jti) is new; false when it was seen within its ttl. */
  remember (iss: string, jti: string, ttlSeconds: number): Promise<boolean>
  close (): Promise<void>
}

/** Where an in-process guard writes what it remembers, so a restart reads it back. */
export interface ReplayJournal {
  /** Writes one entry before the verdict is given (throws if it cannot). */
  add (key: string, until: number): void
  /** Called after each sweep with the live entries: the journal may rewrite itself from them. */
  compact (live: ReadonlyMap<string, number>): void
  close (): void
}

export const pairKey = (iss: string, jti: string): string => `${iss}\0${jti}`

export class MemoryReplayGuard implements ReplayGuard {
  readonly #seen: Map<string, number>
  readonly #timer: NodeJS.Timeout
  readonly #journal: ReplayJournal | null

  /** `entries` are pairs read back from a journal: key → remembered until (ms). */
  constructor (sweepMs = 10_000, journal: ReplayJournal | null = null, entries?: ReadonlyMap<string, number>) {
    this.#seen = new Map(entries)
    this.#journal = journal
    this.#timer = setInterval(() => this.sweep(), sweepMs).unref()
  }

  /** Synchronous core, shared with the Redis guard's local memory. */
  rememberSync (iss: string, jti: string, ttlSeconds: number, now = Date.now()): boolean {
    const key = pairKey(iss, jti)
    const until = this.#seen.get(key)
    if (until !== undefined && until > now) return false
    const next = now + ttlSeconds * 1000
    if (this.#journal !== null) {
      try {
        this.#journal.add(key, next)
      } catch (err) {
        const detail = 'Replay protection cannot be recorded now; try again shortly'
        throw problem('gateway.unavailable', detail, { cause: err, headers: { 'retry-after': '5' } })
      }
    }
    this.#seen.set(key, next)
    return true
  }

  /** Keeps a pair at least until `ttlSeconds` from now (a mirror entry that became the only guard). */
  extend (iss: string, jti: string, ttlSeconds: number, now = Date.now()): void {
    const key = pairKey(iss, jti)
    this.#seen.set(key, Math.max(this.#seen.get(key) ?? 0, now + ttlSeconds * 1000))
  }

  forget (iss: string, jti: string): void {
    this.#seen.delete(pairKey(iss, jti))
  }

  async check (iss: string, jti: string, opts: ReplayCheck): Promise<ReplayVerdict> {
    return { fresh: this.rememberSync(iss, jti, opts.ttlSeconds), guard: 'local' }
  }

  async remember (iss: string, jti: string, ttlSeconds: number): Promise<boolean> {
    return this.rememberSync(iss, jti, ttlSeconds)
  }

  sweep (now = Date.now()): void {
    for (const [key, until] of this.#seen) if (until <= now) this.#seen.delete(key)
    this.#journal?.compact(this.#seen)
  }

  get size (): number {
    return this.#seen.size
  }

  async close (): Promise<void> {
    clearInterval(this.#timer)
    this.#journal?.close()
  }
}

export class RedisReplayGuard implements ReplayGuard {
  readonly #redis: Redis
  readonly #prefix: string
  readonly #local = new MemoryReplayGuard()
  /** Pairs guarded locally while Redis was away: written to Redis once it answers again. */
  readonly #pending = new Map<string, number>()
  #flushing = false
  /** Called when Redis stops answering and the local memory decides alone (once per outage, not per request). */
  readonly #onDegraded: (err: unknown) => void
  #degraded = false

  constructor (redis: Redis, keyPrefix: string, onDegraded: (err: unknown) => void = () => {}) {
    this.#redis = redis
    this.#prefix = `${keyPrefix}jti:`
    this.#onDegraded = onDegraded
  }

  async check (iss: string, jti: string, opts: ReplayCheck): Promise<ReplayVerdict> {
    const ttl = opts.ttlSeconds
    if (!this.#local.rememberSync(iss, jti, Math.min(ttl, opts.mirrorSeconds ?? ttl))) {
      return { fresh: false, guard: this.#redis.status === 'ready' ? 'shared' : 'local' }
    }
    const key = `${this.#prefix}${iss}:${jti}`
    try {
      const set = await this.#redis.set(key, '1', 'EX', ttl, 'NX')
      this.#degraded = false
      if (this.#pending.size > 0) this.#flush()
      return { fresh: set === 'OK', guard: 'shared' }
    } catch (err) {
      if (!this.#degraded) this.#onDegraded(err)
      this.#degraded = true
      if (opts.whenRedisDown === 'refuse') {
        this.#local.forget(iss, jti)
        const detail = 'Replay protection is unavailable; try again shortly'
        throw problem('gateway.unavailable', detail, { headers: { 'retry-after': '5' } })
      }
      // This instance is now the only guard of the pair: keep it for the whole retention, and tell Redis later.
      this.#local.extend(iss, jti, ttl)
      this.#pending.set(key, Date.now() + ttl * 1000)
      return { fresh: true, guard: 'local' }
    }
  }

  async remember (iss: string, jti: string, ttlSeconds: number): Promise<boolean> {
    return (await this.check(iss, jti, { ttlSeconds })).fresh
  }

  /** Writes pairs guarded locally during an outage, so other instances refuse them too from now on. */
  #flush (): void {
    if (this.#flushing) return
    this.#flushing = true
    const now = Date.now()
    const entries = [...this.#pending].filter(([, until]) => until > now)
    this.#pending.clear()
    const pipe = this.#redis.pipeline()
    for (const [key, until] of entries) pipe.set(key, '1', 'PX', until - now, 'NX')
    const requeue = (i: number): void => { const e = entries[i] as [string, number]; this.#pending.set(e[0], e[1]) }
    pipe.exec()
      .then((results) => {
        if (results === null) entries.forEach((_e, i) => requeue(i))
        else results.forEach(([err], i) => { if (err !== null) requeue(i) })
      })
      .catch(() => entries.forEach((_e, i) => requeue(i)))
      .finally(() => { this.#flushing = false })
  }

  /** Pairs guarded only locally and not yet written to Redis. */
  get pending (): number {
    return this.#pending.size
  }

  async close (): Promise<void> {
    await this.#local.close()
  }
}
