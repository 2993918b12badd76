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
import { problem } from '../../core/errors.js'
import { observeEpoch, writePairs, type RedisGuardDisk, type ReplayJournal } from './replay-recovery.js'

export type { RedisGuardDisk, ReplayJournal } from './replay-recovery.js'

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

  /** The live pairs (key → until ms), for a Redis guard writing back what Redis forgot. */
  entries (): IterableIterator<[string, number]> {
    return this.#seen.entries()
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

export interface RedisGuardOptions {
  /** Called when Redis stops answering and the local memory decides alone (once per outage, not per request). */
  readonly onDegraded?: (err: unknown) => void
  /** Without it, pairs guarded alone live only in memory (tests); the gateway always gives one. */
  readonly disk?: RedisGuardDisk
  readonly sweepMs?: number
  /** Called when this instance finds that Redis lost its state, with the end of the window (ms) that follows. */
  readonly onStateLost?: (until: number) => void
}

/**
 * After Redis lost its state, the shared guard cannot vouch for a jti until every token accepted before the
 * loss is out of every window: the largest retention (`iat` may be up to the skew ahead) plus the margin.
 */
export const LOSS_WINDOW_SECONDS = 2 * MAX_CLOCK_SKEW_SECONDS + CLOCK_MARGIN_SECONDS

export class RedisReplayGuard implements ReplayGuard {
  readonly #redis: Redis
  readonly #prefix: string
  readonly #epochKey: string
  readonly #local: MemoryReplayGuard
  /** Pairs guarded locally while Redis was away (key → until ms): written to Redis once it answers again. */
  readonly #pending = new Map<string, number>()
  /** Pairs guarded alone and journalled, kept (and compacted) until they expire: a restart re-sends them. */
  readonly #journalled: Map<string, number>
  readonly #disk: RedisGuardDisk | null
  readonly #onDegraded: (err: unknown) => void
  readonly #onStateLost: (until: number) => void
  readonly #onReady = (): void => { void this.#recover() }
  readonly #timer: NodeJS.Timeout
  #flushing: Promise<void> | null = null
  #degraded = false
  #epoch: string | null
  /** Between Redis coming back and this instance having written back what it holds. */
  #recovering: Promise<void> | null = null
  /** Until then (ms) verdicts are this instance's memory plus a Redis that forgot: marked `local`. */
  #lossUntil = 0
  /** Recovering with a generation known: until the check ends, Redis may be one that forgot. */
  #doubt = false

  constructor (redis: Redis, keyPrefix: string, opts: RedisGuardOptions | ((err: unknown) => void) = {}) {
    const o = typeof opts === 'function' ? { onDegraded: opts } : opts
    this.#redis = redis
    this.#prefix = `${keyPrefix}jti:`
    this.#epochKey = `${keyPrefix}jti-epoch`
    this.#onDegraded = o.onDegraded ?? (() => {})
    this.#onStateLost = o.onStateLost ?? (() => {})
    this.#disk = o.disk ?? null
    this.#epoch = this.#disk?.epoch ?? null
    this.#journalled = new Map(this.#disk?.entries)
    // What an earlier run guarded alone is refused here at once, and written to Redis before serving.
    this.#local = new MemoryReplayGuard(o.sweepMs, null, this.#journalled)
    for (const [key, until] of this.#journalled) this.#pending.set(key, until)
    this.#timer = setInterval(() => this.#sweep(), o.sweepMs ?? 10_000).unref()
    redis.on('ready', this.#onReady)
    if (redis.status === 'ready') void this.#recover()
  }

  /** Resolves once what was guarded alone is written to Redis (or Redis is not there: then when it is). */
  async start (): Promise<void> {
    if (this.#recovering !== null) await this.#recovering
    else if (this.#redis.status === 'ready') await this.#recover()
  }

  async check (iss: string, jti: string, opts: ReplayCheck): Promise<ReplayVerdict> {
    const ttl = opts.ttlSeconds
    if (!this.#local.rememberSync(iss, jti, Math.min(ttl, opts.mirrorSeconds ?? ttl))) {
      return { fresh: false, guard: this.#redis.status === 'ready' && !this.#uncertain() ? 'shared' : 'local' }
    }
    try {
      const set = await this.#redis.set(`${this.#prefix}${iss}:${jti}`, '1', 'EX', ttl, 'NX')
      this.#degraded = false
      if (this.#pending.size > 0) void this.#flush()
      if (!this.#uncertain()) return { fresh: set === 'OK', guard: 'shared' }
      // Redis may have forgotten this jti: only this instance's memory vouches, for the whole retention.
      this.#local.extend(iss, jti, ttl)
      return { fresh: set === 'OK', guard: 'local' }
    } catch (err) {
      if (!this.#degraded) this.#onDegraded(err)
      this.#degraded = true
      if (opts.whenRedisDown === 'refuse') {
        this.#local.forget(iss, jti)
        const detail = 'Replay protection is unavailable; try again shortly'
        throw problem('gateway.unavailable', detail, { headers: { 'retry-after': '5' } })
      }
      // This instance is now the only guard of the pair: keep it for the whole retention, on disk too (a
      // restart must not reopen it), and tell Redis as soon as it answers.
      const key = pairKey(iss, jti)
      const until = Date.now() + ttl * 1000
      if (this.#disk !== null) {
        try {
          this.#disk.journal.add(key, until)
        } catch (cause) {
          this.#local.forget(iss, jti)
          const detail = 'Replay protection cannot be recorded now; try again shortly'
          throw problem('gateway.unavailable', detail, { cause, headers: { 'retry-after': '5' } })
        }
        this.#journalled.set(key, until)
      }
      this.#local.extend(iss, jti, ttl)
      this.#pending.set(key, until)
      return { fresh: true, guard: 'local' }
    }
  }

  async remember (iss: string, jti: string, ttlSeconds: number): Promise<boolean> {
    return (await this.check(iss, jti, { ttlSeconds })).fresh
  }

  /** Whether Redis may have forgotten jtis: while learning it (if a generation was known), or after a loss. */
  #uncertain (): boolean {
    return this.#doubt || (this.#lossUntil > 0 && Date.now() < this.#lossUntil)
  }

  /**
   * Redis answers again (or at start): learn whether it lost its state; if so, write back every pair this
   * instance remembers, so other instances refuse them too; then the pairs guarded alone.
   */
  #recover (): Promise<void> {
    if (this.#recovering !== null) return this.#recovering
    this.#doubt = this.#epoch !== null
    this.#recovering = (async () => {
      try {
        const seen = await observeEpoch(this.#redis, this.#epochKey, this.#epoch)
        const lossEnd = seen.lostAt === null ? 0 : seen.lostAt + LOSS_WINDOW_SECONDS * 1000
        this.#lossUntil = Math.max(this.#lossUntil, lossEnd)
        if (seen.changed) {
          this.#onStateLost(this.#lossUntil)
          // Everything this instance remembers goes back to Redis, so the others refuse it too.
          for (const [key, until] of this.#local.entries()) {
            this.#pending.set(key, Math.max(this.#pending.get(key) ?? 0, until))
          }
        }
        if (seen.epoch !== this.#epoch) {
          this.#epoch = seen.epoch
          try {
            this.#disk?.saveEpoch(seen.epoch)
          } catch {
            // Only a later restart's detection of a loss depends on it; the guarding here goes on.
          }
        }
        // A flush started by a request may not have taken the pairs just added: a second round does.
        await this.#flush()
        if (this.#pending.size > 0) await this.#flush()
      } catch {
        // Redis went away again: the next 'ready' (or the next successful request) tries again.
      } finally {
        this.#recovering = null
        this.#doubt = false
      }
    })()
    return this.#recovering
  }

  /** Writes pairs guarded locally during an outage, so other instances refuse them too from now on. */
  #flush (): Promise<void> {
    if (this.#flushing !== null) return this.#flushing
    const entries = [...this.#pending]
    this.#pending.clear()
    this.#flushing = writePairs(this.#redis, this.#prefix, entries)
      .catch((failed: unknown) => {
        const again = Array.isArray(failed) ? failed as typeof entries : entries
        for (const [key, until] of again) this.#pending.set(key, until)
      })
      .finally(() => { this.#flushing = null })
    return this.#flushing
  }

  #sweep (now = Date.now()): void {
    for (const [key, until] of this.#journalled) if (until <= now) this.#journalled.delete(key)
    this.#disk?.journal.compact(this.#journalled)
  }

  /** Pairs guarded only locally and not yet written to Redis. */
  get pending (): number {
    return this.#pending.size
  }

  async close (): Promise<void> {
    this.#redis.off('ready', this.#onReady)
    clearInterval(this.#timer)
    await this.#local.close()
    this.#disk?.journal.close()
  }
}
