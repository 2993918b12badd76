/**
 * Provide once (CONTRACT §6): a record fetched from a registry is kept — sealed, under a keyed-hash name —
 * and reused by every later call entitled to it until its window (`cache.ttlSeconds`) passes.
 *
 * One registry call per record however many ask at once: concurrent misses share one load within the
 * process, and across instances the first to take the record's lock loads while the others wait for its
 * "done" event (or its "failed" event, which they share rather than all retrying the registry). A kept
 * record past its window may answer (stale) within `maxStaleSeconds` only while the registry is unreachable.
 *
 * If the store does not answer (Redis down), reads go straight to the registry, still shared in-process,
 * and reuse resumes by itself when the store is back.
 *
 * Hot records are answered from a short-lived in-process copy (hot-records.ts) before the store is asked.
 */
import type { CanonicalRecord, RecordKey } from '../../adapters/contract.js'
import { GatewayError, problem, type ProblemCode } from '../../core/errors.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import type { LoadedRecord, Loader, ReadPolicy, RecordReader } from './reader.js'
import type { RecordCipher } from './cipher.js'
import { HotRecords } from './hot-records.js'
import { RecordNames } from './names.js'
import { Waiters } from './waiters.js'
import { indexOf as indexOfKey, type LastLoad, type RecordStore, type StoreEvent } from './store.js'

export interface ReuseOptions {
  readonly store: RecordStore
  readonly cipher: RecordCipher
  readonly pseudonymizer: Pseudonymizer
  readonly maxStaleSeconds: number
  /** How long a caller waits for another instance's load before giving up (504). */
  readonly waitTimeoutMs: number
  /** Store failures, for logs, metrics and readiness. */
  readonly onStoreError?: (err: unknown) => void
  readonly onStoreRecovered?: () => void
  /**
   * The in-process copy of hot records: how long a copy may answer after it was read (`reuse.localMs`,
   * 0 = off) and how many are held.
   */
  readonly hot?: { readonly maxAgeMs: number, readonly maxEntries: number }
}

interface Kept { readonly record: CanonicalRecord, readonly retrievedAt: number }

/** Upstream failures during which a kept record past its window may still answer. */
const STALE_IF: ReadonlySet<ProblemCode> = new Set(['upstream.unavailable', 'upstream.timeout'])

export class ReuseReader implements RecordReader {
  readonly #opts: ReuseOptions
  readonly #inflight = new Map<string, Promise<LoadedRecord | null>>()
  readonly #waiters = new Waiters()
  readonly #hot: HotRecords
  readonly #names: RecordNames
  #storeHealthy = true

  constructor (opts: ReuseOptions) {
    this.#opts = opts
    this.#hot = new HotRecords(opts.hot ?? { maxAgeMs: 0, maxEntries: 0 })
    this.#names = new RecordNames(opts.pseudonymizer)
    opts.store.subscribe((event) => {
      if (event.type === 'invalidated') {
        this.#hot.drop(event.scope === 'subject' ? { index: event.key } : { prefix: event.key })
        return
      }
      this.#waiters.wake(event)
    })
  }

  /** Whether the store answered the last time it was asked. */
  get storeHealthy (): boolean {
    return this.#storeHealthy
  }

  /** A record's name in the store (see names.ts). */
  storageKey (key: RecordKey, version = ''): string {
    return this.#names.stored(key, this.#names.clear(key, version))
  }

  /** A subject's index in the store (see names.ts). */
  indexOf (service: string, subject: string): string {
    return this.#names.index(service, subject)
  }

  async read (key: RecordKey, policy: ReadPolicy, load: Loader): Promise<LoadedRecord | null> {
    if (policy.ttlSeconds <= 0) {
      const record = await load()
      return record === null
        ? null
        : { record, source: 'upstream', retrievedAt: new Date().toISOString(), stale: false }
    }
    const clear = this.#names.clear(key, policy.version)
    const now = Date.now()
    const hot = this.#hot.get(clear, now)
    if (hot !== undefined && now - hot.retrievedAt < policy.ttlSeconds * 1000) {
      return this.#loaded(hot, 'reuse', false)
    }
    const name = this.#names.stored(key, clear)
    const shared = this.#inflight.get(name)
    if (shared !== undefined) {
      const result = await shared
      return result === null ? null : { ...result, source: 'reuse' }
    }
    const leader = this.#readOrLoad(name, policy, load)
    this.#inflight.set(name, leader)
    try {
      const result = await leader
      // Only a record within its window is copied (a stale one answers this read alone).
      if (result !== null && !result.stale && this.#hot.enabled) {
        const retrievedAt = Date.parse(result.retrievedAt)
        this.#hot.set(clear, { record: result.record, retrievedAt, name, index: indexOfKey(name) })
      }
      return result
    } finally {
      this.#inflight.delete(name)
    }
  }

  async #readOrLoad (name: string, policy: ReadPolicy, load: Loader): Promise<LoadedRecord | null> {
    // What is kept, and which load of it last finished, read in one step: any load that finishes after this
    // point ran concurrently with this read, and its outcome is this read's answer too (see below).
    const { kept, lastLoad: seen } = await this.#peek(name)
    const now = Date.now()
    if (kept !== null && now - kept.retrievedAt < policy.ttlSeconds * 1000) {
      return this.#loaded(kept, 'reuse', false)
    }
    if (!this.#storeHealthy) return this.#loadAndKeep(name, policy, load, kept, null, null)

    const lockMs = policy.loadTimeoutMs + 1000
    const deadline = now + this.#windowMs(policy)
    const index = indexOfKey(name)
    for (;;) {
      // Listening before asking for the lock: an outcome announced after the lock is refused is not missed.
      const wait = this.#waiters.waitFor(name, Math.min(250, deadline - Date.now()))
      // The lock, the index's generation and the last load in one round trip, in that order (one connection,
      // answered in order): the generation only has to be read before the load starts, so that an
      // invalidation during the load keeps its stale record out; the last load is read once the lock is held.
      const [token, generation, last] = await Promise.all([
        this.#try(() => this.#opts.store.lock(name, lockMs), null),
        this.#try(() => this.#opts.store.generation(index), null),
        this.#try(() => this.#opts.store.lastLoad(name), null),
      ])
      if (token !== null || !this.#storeHealthy) {
        wait.stop()
        // A load finished between this read's first look and its lock (its "done", "absent" or "failed"
        // announced before this instance listened): it was the one registry call for both.
        if (token !== null && last !== null && last.id !== seen?.id) {
          const shared = await this.#shareOutcome(name, policy, kept, last.event, token)
          if (shared !== undefined) return shared
        }
        return this.#loadAndKeep(name, policy, load, kept, token, token === null ? null : generation)
      }
      // Another instance is loading this record: wait for its outcome instead of calling the registry too.
      const outcome = await wait.event
      if (outcome?.type === 'absent') return null
      if (outcome?.type === 'failed') return this.#failed(outcome.code, kept, policy)
      const now2 = Date.now()
      const fresh = await this.#get(name)
      if (fresh !== null && now2 - fresh.retrievedAt < policy.ttlSeconds * 1000) {
        return this.#loaded(fresh, 'reuse', false)
      }
      if (now2 >= deadline) throw problem('upstream.timeout', 'The registry did not provide the record in time')
    }
  }

  /**
   * Answers with another load's outcome while holding the lock, which is released; undefined when this read
   * must load after all (a "done" whose record is not there: an invalidation kept it out, or it expired).
   */
  async #shareOutcome (
    name: string, policy: ReadPolicy, kept: Kept | null, event: StoreEvent, token: string
  ): Promise<LoadedRecord | null | undefined> {
    let keepLock = false
    try {
      if (event.type === 'absent') return null
      if (event.type === 'failed') return this.#failed(event.code, kept, policy)
      const fresh = await this.#get(name)
      if (fresh !== null && Date.now() - fresh.retrievedAt < policy.ttlSeconds * 1000) {
        return this.#loaded(fresh, 'reuse', false)
      }
      keepLock = true
      return undefined
    } finally {
      if (!keepLock) await this.#try(() => this.#opts.store.unlock(name, token), undefined)
    }
  }

  /** Another load's failure: a kept record past its window if one may answer, else the same problem. */
  #failed (code: string, kept: Kept | null, policy: ReadPolicy): LoadedRecord {
    const stale = this.#staleIfError(code, kept, policy)
    if (stale !== null) return stale
    throw problem(code as ProblemCode, 'The registry could not provide the record')
  }

  /** How long a read may go on waiting for other instances' loads before it loads itself or gives up. */
  #windowMs (policy: ReadPolicy): number {
    return Math.max(this.#opts.waitTimeoutMs, policy.loadTimeoutMs + 1000)
  }

  async #loadAndKeep (
    name: string, policy: ReadPolicy, load: Loader, kept: Kept | null, token: string | null, generation: string | null
  ): Promise<LoadedRecord | null> {
    // The outcome is announced, kept as the last load and the lock released together (one round trip), all
    // after the record is kept.
    let announced: Promise<unknown> = Promise.resolve()
    let event: StoreEvent | undefined
    const announce = (e: StoreEvent): void => {
      event = e
      announced = this.#try(() => this.#opts.store.publish(e), undefined)
    }
    try {
      let record: CanonicalRecord | null
      try {
        record = await load()
      } catch (err) {
        const code = err instanceof GatewayError ? err.code : 'internal'
        // Announced even when a kept record answers this read stale: the waiters may answer so too.
        if (token !== null) announce({ type: 'failed', key: name, code })
        const stale = this.#staleIfError(code, kept, policy)
        if (stale !== null) return stale
        throw err
      }
      const retrievedAt = Date.now()
      if (record !== null && generation !== null) {
        const sealed = this.#opts.cipher.seal(Buffer.from(JSON.stringify({ r: record, t: retrievedAt })), name)
        const ttlMs = (policy.ttlSeconds + this.#opts.maxStaleSeconds) * 1000
        await this.#try(() => this.#opts.store.set(name, sealed, ttlMs, generation), false)
      }
      if (token !== null) announce({ type: record === null ? 'absent' : 'done', key: name })
      return record === null ? null : this.#loaded({ record, retrievedAt }, 'upstream', false)
    } finally {
      if (token !== null) {
        // Kept for as long as a read that began before it may take to reach the lock (twice that, for slack).
        const last = event === undefined ? undefined : { event, keepMs: 2 * this.#windowMs(policy) }
        await Promise.all([announced, this.#try(() => this.#opts.store.unlock(name, token, last), undefined)])
      }
    }
  }

  /** A kept record past its window, when the registry is unreachable and it is within maxStaleSeconds. */
  #staleIfError (code: string, kept: Kept | null, policy: ReadPolicy): LoadedRecord | null {
    if (kept === null || !STALE_IF.has(code as ProblemCode)) return null
    if (Date.now() - kept.retrievedAt >= (policy.ttlSeconds + this.#opts.maxStaleSeconds) * 1000) return null
    return this.#loaded(kept, 'reuse', true)
  }

  #loaded (kept: Kept, source: 'upstream' | 'reuse', stale: boolean): LoadedRecord {
    return { record: kept.record, source, retrievedAt: new Date(kept.retrievedAt).toISOString(), stale }
  }

  async #get (name: string): Promise<Kept | null> {
    return this.#open(name, await this.#try(() => this.#opts.store.get(name), null))
  }

  async #peek (name: string): Promise<{ kept: Kept | null, lastLoad: LastLoad | null }> {
    const store = this.#opts.store
    const { value, lastLoad } = await this.#try(() => store.getWithLastLoad(name), { value: null, lastLoad: null })
    return { kept: this.#open(name, value), lastLoad }
  }

  #open (name: string, sealed: Buffer | null): Kept | null {
    if (sealed === null) return null
    const plain = this.#opts.cipher.open(sealed, name)
    if (plain === null) return null
    const parsed = JSON.parse(plain.toString('utf8')) as { r: CanonicalRecord, t: number }
    return { record: parsed.r, retrievedAt: parsed.t }
  }

  /** Runs a store call; on failure reports it, marks the store unhealthy and returns `fallback`. */
  async #try<T> (fn: () => Promise<T>, fallback: T): Promise<T> {
    try {
      const value = await fn()
      if (!this.#storeHealthy) {
        this.#storeHealthy = true
        this.#opts.onStoreRecovered?.()
      }
      return value
    } catch (err) {
      if (this.#storeHealthy) this.#opts.onStoreError?.(err)
      this.#storeHealthy = false
      return fallback
    }
  }

  /**
   * Drops every kept record of a subject (a source's notification), or of a whole service (an
   * administrator's purge); 503 when the store cannot be reached.
   */
  async invalidate (service: string, subject?: string): Promise<number> {
    const event: StoreEvent = subject === undefined
      ? { type: 'invalidated', key: `${this.#names.group(service)}.`, scope: 'service' }
      : { type: 'invalidated', key: this.#names.index(service, subject), scope: 'subject' }
    // This instance's copies first (before the store answers, a read here must not find them), then every
    // other instance's, through the store's events.
    this.#hot.drop(event.scope === 'subject' ? { index: event.key } : { prefix: event.key })
    try {
      const dropped = event.scope === 'service'
        ? await this.#opts.store.invalidatePrefix(event.key)
        : await this.#opts.store.invalidate(event.key)
      await this.#try(() => this.#opts.store.publish(event), undefined)
      return dropped
    } catch (err) {
      this.#opts.onStoreError?.(err)
      throw problem('gateway.unavailable', 'Records cannot be invalidated now; try again shortly', { cause: err })
    }
  }

  async close (): Promise<void> {
    await this.#opts.store.close()
  }
}
