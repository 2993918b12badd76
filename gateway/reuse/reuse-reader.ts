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
 */
import type { CanonicalRecord, RecordKey } from '../../adapters/contract.js'
import { GatewayError, problem, type ProblemCode } from '../../core/errors.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import type { LoadedRecord, Loader, ReadPolicy, RecordReader } from './reader.js'
import type { RecordCipher } from './cipher.js'
import { indexOf as indexOfKey, type RecordStore, type StoreEvent } from './store.js'

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
}

interface Kept { readonly record: CanonicalRecord, readonly retrievedAt: number }

/** Upstream failures during which a kept record past its window may still answer. */
const STALE_IF: ReadonlySet<ProblemCode> = new Set(['upstream.unavailable', 'upstream.timeout'])

export class ReuseReader implements RecordReader {
  readonly #opts: ReuseOptions
  readonly #inflight = new Map<string, Promise<LoadedRecord | null>>()
  readonly #waiters = new Map<string, Set<(e: StoreEvent) => void>>()
  #storeHealthy = true

  constructor (opts: ReuseOptions) {
    this.#opts = opts
    opts.store.subscribe((event) => {
      for (const wake of this.#waiters.get(event.key) ?? []) wake(event)
    })
  }

  /** Whether the store answered the last time it was asked. */
  get storeHealthy (): boolean {
    return this.#storeHealthy
  }

  /**
   * `<index>:<record>`: the subject's index and the record, both keyed hashes. The record's name includes
   * the version of the mapping that produced it, so a changed mapping or upstream never finds it again.
   */
  storageKey (key: RecordKey, version = ''): string {
    const p = this.#opts.pseudonymizer
    const params = Object.keys(key.params).sort().map((k) => `${k}=${key.params[k] as string}`).join('&')
    const record = p.of('key', `${key.service}\0${key.kind}\0${key.subject}\0${params}\0${version}`)
    return `${this.indexOf(key.service, key.subject)}:${record}`
  }

  /** `<service group>.<subject>`: a service's indexes share a prefix, so a whole service can be purged. */
  indexOf (service: string, subject: string): string {
    return `${this.#serviceGroup(service)}.${this.#opts.pseudonymizer.of('key', `${service}\0${subject}`).slice(0, 32)}`
  }

  #serviceGroup (service: string): string {
    return this.#opts.pseudonymizer.of('key', `service\0${service}`).slice(0, 16)
  }

  async read (key: RecordKey, policy: ReadPolicy, load: Loader): Promise<LoadedRecord | null> {
    if (policy.ttlSeconds <= 0) {
      const record = await load()
      return record === null ? null : { record, source: 'upstream', retrievedAt: new Date().toISOString(), stale: false }
    }
    const name = this.storageKey(key, policy.version)
    const shared = this.#inflight.get(name)
    if (shared !== undefined) {
      const result = await shared
      return result === null ? null : { ...result, source: 'reuse' }
    }
    const leader = this.#readOrLoad(name, policy, load)
    this.#inflight.set(name, leader)
    try {
      return await leader
    } finally {
      this.#inflight.delete(name)
    }
  }

  async #readOrLoad (name: string, policy: ReadPolicy, load: Loader): Promise<LoadedRecord | null> {
    const kept = await this.#get(name)
    const now = Date.now()
    if (kept !== null && now - kept.retrievedAt < policy.ttlSeconds * 1000) {
      return this.#loaded(kept, 'reuse', false)
    }
    if (!this.#storeHealthy) return this.#loadAndKeep(name, policy, load, kept, null, null)

    const lockMs = policy.loadTimeoutMs + 1000
    const deadline = now + Math.max(this.#opts.waitTimeoutMs, lockMs)
    const index = indexOfKey(name)
    for (;;) {
      // The lock and the index's generation in one round trip: the generation only has to be read before
      // the load starts, so that an invalidation during the load keeps its stale record out.
      const [token, generation] = await Promise.all([
        this.#try(() => this.#opts.store.lock(name, lockMs), null),
        this.#try(() => this.#opts.store.generation(index), null),
      ])
      if (token !== null || !this.#storeHealthy) return this.#loadAndKeep(name, policy, load, kept, token, token === null ? null : generation)
      // Another instance is loading this record: wait for its outcome instead of calling the registry too.
      const outcome = await this.#waitFor(name, Math.min(250, deadline - Date.now()))
      if (outcome?.type === 'absent') return null
      if (outcome?.type === 'failed') {
        const stale = this.#staleIfError(outcome.code, kept, policy)
        if (stale !== null) return stale
        throw problem(outcome.code as ProblemCode, 'The registry could not provide the record')
      }
      const now2 = Date.now()
      const fresh = await this.#get(name)
      if (fresh !== null && now2 - fresh.retrievedAt < policy.ttlSeconds * 1000) {
        return this.#loaded(fresh, 'reuse', false)
      }
      if (now2 >= deadline) throw problem('upstream.timeout', 'The registry did not provide the record in time')
    }
  }

  async #loadAndKeep (name: string, policy: ReadPolicy, load: Loader, kept: Kept | null, token: string | null, generation: string | null): Promise<LoadedRecord | null> {
    // The outcome is announced and the lock released together (one round trip), both after the record is kept.
    let announced: Promise<unknown> = Promise.resolve()
    try {
      let record: CanonicalRecord | null
      try {
        record = await load()
      } catch (err) {
        const code = err instanceof GatewayError ? err.code : 'internal'
        const stale = this.#staleIfError(code, kept, policy)
        if (stale !== null) return stale
        if (token !== null) announced = this.#try(() => this.#opts.store.publish({ type: 'failed', key: name, code }), undefined)
        throw err
      }
      const retrievedAt = Date.now()
      if (record !== null && generation !== null) {
        const sealed = this.#opts.cipher.seal(Buffer.from(JSON.stringify({ r: record, t: retrievedAt })), name)
        const ttlMs = (policy.ttlSeconds + this.#opts.maxStaleSeconds) * 1000
        await this.#try(() => this.#opts.store.set(name, sealed, ttlMs, generation), false)
      }
      if (token !== null) announced = this.#try(() => this.#opts.store.publish({ type: record === null ? 'absent' : 'done', key: name }), undefined)
      return record === null ? null : this.#loaded({ record, retrievedAt }, 'upstream', false)
    } finally {
      if (token !== null) await Promise.all([announced, this.#try(() => this.#opts.store.unlock(name, token), undefined)])
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
    const sealed = await this.#try(() => this.#opts.store.get(name), null)
    if (sealed === null) return null
    const plain = this.#opts.cipher.open(sealed, name)
    if (plain === null) return null
    const parsed = JSON.parse(plain.toString('utf8')) as { r: CanonicalRecord, t: number }
    return { record: parsed.r, retrievedAt: parsed.t }
  }

  #waitFor (name: string, ms: number): Promise<StoreEvent | null> {
    return new Promise((resolve) => {
      let set = this.#waiters.get(name)
      if (set === undefined) this.#waiters.set(name, set = new Set())
      const wake = (e: StoreEvent | null): void => {
        clearTimeout(timer)
        set.delete(wake)
        if (set.size === 0) this.#waiters.delete(name)
        resolve(e)
      }
      const timer = setTimeout(() => wake(null), Math.max(1, ms))
      set.add(wake)
    })
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
    try {
      return subject === undefined
        ? await this.#opts.store.invalidatePrefix(`${this.#serviceGroup(service)}.`)
        : await this.#opts.store.invalidate(this.indexOf(service, subject))
    } catch (err) {
      this.#opts.onStoreError?.(err)
      throw problem('gateway.unavailable', 'Records cannot be invalidated now; try again shortly', { cause: err })
    }
  }

  async close (): Promise<void> {
    await this.#opts.store.close()
  }
}
