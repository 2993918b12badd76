/**
 * The record store contract: where kept records live between requests, as opaque sealed values under
 * opaque (keyed-hash) names. It never sees a subject or a field in clear.
 *
 * Covered: values with expiry; a per-subject index so a source's notification can drop every record of a
 * subject; a generation per index so a load that started before an invalidation cannot write its now-stale
 * record after it; short locks so one instance loads a record while the others wait; events telling
 * waiters a load finished, and its outcome kept beside the lock for a while (`lastLoad`) for readers that
 * missed the event. Left out: encryption and naming (the reuse reader's job), eviction policy
 * beyond expiry (Redis's `maxmemory-policy`; the memory store bounds its size).
 * Lifecycle: built at startup, `close()` at shutdown. Implementations: `MemoryRecordStore` (standalone)
 * and `RedisRecordStore` (shared by every instance); both pass test/reuse/store-conformance.test.ts.
 */
/** What a loader tells waiting instances: the record is kept, the registry has none, or the load failed. */
export type StoreEvent =
  | { readonly type: 'done', readonly key: string }
  | { readonly type: 'absent', readonly key: string }
  | { readonly type: 'failed', readonly key: string, readonly code: string }
  /** Records were invalidated: a subject's (`key` is its index) or a whole service's (`key` its index prefix). */
  | { readonly type: 'invalidated', readonly key: string, readonly scope: 'subject' | 'service' }

/**
 * What a finished load leaves beside its record's lock, for the readers that take the lock after it: which
 * load it was (its lock token) and its outcome. A reader that finds a load it had not seen when it began
 * was concurrent with it, and that outcome (the record kept, none, a failure) is its answer too: only one
 * of them calls the registry (CONTRACT §6).
 */
export interface LastLoad {
  readonly id: string
  readonly event: StoreEvent
}

/** A load's outcome, given to `unlock` to be kept for `keepMs` as the record's `lastLoad`. */
export interface LoadOutcome {
  readonly event: StoreEvent
  readonly keepMs: number
}

/** A stored LastLoad, or null when missing or not one. */
export function parseLastLoad (text: string | Buffer | null | undefined): LastLoad | null {
  if (text == null) return null
  try {
    const v = JSON.parse(text.toString()) as Partial<LastLoad> | null
    const ok = typeof v?.id === 'string' && typeof v.event?.type === 'string' && typeof v.event.key === 'string'
    return ok ? v as LastLoad : null
  } catch {
    return null
  }
}

/**
 * Record keys are `<index>:<record>`, both keyed hashes: the index names a subject of a service, the record
 * one kind and parameter set of it. (Redis puts the index in a hash tag, so a subject's keys share a slot.)
 */
export function indexOf (key: string): string {
  return key.slice(0, key.indexOf(':'))
}

export interface RecordStore {
  get (key: string): Promise<Buffer | null>
  /** `get` and `lastLoad` in one step: no load can finish between the two reads. */
  getWithLastLoad (key: string): Promise<{ value: Buffer | null, lastLoad: LastLoad | null }>
  /** The last load of `key` that finished with an outcome (see `unlock`) in the last `keepMs`, or null. */
  lastLoad (key: string): Promise<LastLoad | null>
  /** The generation of a subject index; changes whenever the index is invalidated. */
  generation (index: string): Promise<string>
  /**
   * Keeps `value` for `ttlMs` and lists `key` under its index — unless the index was invalidated since
   * `generation` was read, in which case nothing is written and false is returned.
   */
  set (key: string, value: Buffer, ttlMs: number, generation: string): Promise<boolean>
  /** Drops every record listed under `index` and bumps its generation; resolves with how many were dropped. */
  invalidate (index: string): Promise<number>
  /**
   * `invalidate` for every index whose name starts with `prefix` (a whole service: the reuse reader names a
   * service's indexes `<service group>.<subject>`). Slow (it walks the store), for administrators only.
   */
  invalidatePrefix (prefix: string): Promise<number>
  /** A lock token when the lock was free, or null. Tokens are unique across instances (a load's id). */
  lock (key: string, ttlMs: number): Promise<string | null>
  /**
   * Releases the lock if `token` holds it. With `last`, first keeps `{ id: token, event }` as the key's
   * `lastLoad` for `keepMs`, in the same step: whoever takes the lock next finds it.
   */
  unlock (key: string, token: string, last?: LoadOutcome): Promise<void>
  publish (event: StoreEvent): Promise<void>
  /** Events from every instance (this one included). */
  subscribe (listener: (event: StoreEvent) => void): void
  close (): Promise<void>
}

interface Entry { value: Buffer, expiresAt: number }

/** In-process store for a standalone gateway: bounded, expiring, with the same semantics as Redis. */
export class MemoryRecordStore implements RecordStore {
  readonly #values = new Map<string, Entry>()
  readonly #indexes = new Map<string, Set<string>>()
  readonly #generations = new Map<string, number>()
  readonly #locks = new Map<string, { token: string, expiresAt: number }>()
  readonly #lastLoads = new Map<string, { last: LastLoad, expiresAt: number }>()
  readonly #listeners: Array<(e: StoreEvent) => void> = []
  readonly #maxEntries: number
  #seq = 0

  constructor (maxEntries = 100_000) {
    this.#maxEntries = maxEntries
  }

  async get (key: string): Promise<Buffer | null> {
    return this.#value(key)
  }

  async getWithLastLoad (key: string): Promise<{ value: Buffer | null, lastLoad: LastLoad | null }> {
    // Both read in the same turn: nothing else runs between them.
    return { value: this.#value(key), lastLoad: this.#lastLoad(key) }
  }

  async lastLoad (key: string): Promise<LastLoad | null> {
    return this.#lastLoad(key)
  }

  #value (key: string): Buffer | null {
    const e = this.#values.get(key)
    if (e === undefined) return null
    if (e.expiresAt <= Date.now()) {
      this.#values.delete(key)
      return null
    }
    return e.value
  }

  #lastLoad (key: string): LastLoad | null {
    const e = this.#lastLoads.get(key)
    return e === undefined || e.expiresAt <= Date.now() ? null : e.last
  }

  async generation (index: string): Promise<string> {
    return String(this.#generations.get(index) ?? 0)
  }

  async set (key: string, value: Buffer, ttlMs: number, generation: string): Promise<boolean> {
    const index = indexOf(key)
    if (String(this.#generations.get(index) ?? 0) !== generation) return false
    this.#values.delete(key) // re-insert at the end: insertion order is the eviction order
    this.#values.set(key, { value, expiresAt: Date.now() + ttlMs })
    let keys = this.#indexes.get(index)
    if (keys === undefined) this.#indexes.set(index, keys = new Set())
    keys.add(key)
    while (this.#values.size > this.#maxEntries) {
      const oldest = this.#values.keys().next().value as string
      this.#values.delete(oldest)
    }
    return true
  }

  async invalidate (index: string): Promise<number> {
    this.#generations.set(index, (this.#generations.get(index) ?? 0) + 1)
    const keys = this.#indexes.get(index)
    this.#indexes.delete(index)
    let n = 0
    const now = Date.now()
    for (const key of keys ?? []) {
      const e = this.#values.get(key)
      if (e !== undefined && e.expiresAt > now) n++
      this.#values.delete(key)
    }
    return n
  }

  async invalidatePrefix (prefix: string): Promise<number> {
    let n = 0
    for (const index of [...this.#indexes.keys()]) if (index.startsWith(prefix)) n += await this.invalidate(index)
    return n
  }

  async lock (key: string, ttlMs: number): Promise<string | null> {
    const held = this.#locks.get(key)
    if (held !== undefined && held.expiresAt > Date.now()) return null
    const token = String(++this.#seq)
    this.#locks.set(key, { token, expiresAt: Date.now() + ttlMs })
    return token
  }

  async unlock (key: string, token: string, last?: LoadOutcome): Promise<void> {
    if (last !== undefined) {
      const now = Date.now()
      this.#lastLoads.delete(key) // re-insert at the end: with one keepMs, insertion order is expiry order
      this.#lastLoads.set(key, { last: { id: token, event: last.event }, expiresAt: now + last.keepMs })
      for (const [k, e] of this.#lastLoads) {
        if (e.expiresAt > now && this.#lastLoads.size <= this.#maxEntries) break
        this.#lastLoads.delete(k)
      }
    }
    if (this.#locks.get(key)?.token === token) this.#locks.delete(key)
  }

  async publish (event: StoreEvent): Promise<void> {
    for (const l of this.#listeners) l(event)
  }

  subscribe (listener: (event: StoreEvent) => void): void {
    this.#listeners.push(listener)
  }

  get size (): number {
    return this.#values.size
  }

  async close (): Promise<void> {
    this.#values.clear()
    this.#lastLoads.clear()
  }
}
