/**
 * The record store contract: where kept records live between requests, as opaque sealed values under
 * opaque (keyed-hash) names. It never sees a subject or a field in clear.
 *
 * Covered: values with expiry; a per-subject index so a source's notification can drop every record of a
 * subject; a generation per index so a load that started before an invalidation cannot write its now-stale
 * record after it; short locks so one instance loads a record while the others wait; events telling
 * waiters a load finished. Left out: encryption and naming (the reuse reader's job), eviction policy
 * beyond expiry (Redis's `maxmemory-policy`; the memory store bounds its size).
 * Lifecycle: built at startup, `close()` at shutdown. Implementations: `MemoryRecordStore` (standalone)
 * and `RedisRecordStore` (shared by every instance); both pass test/reuse/store-conformance.test.ts.
 */
/** What a loader tells waiting instances: the record is kept, the registry has none, or the load failed. */
export type StoreEvent =
  | { readonly type: 'done', readonly key: string }
  | { readonly type: 'absent', readonly key: string }
  | { readonly type: 'failed', readonly key: string, readonly code: string }

/**
 * Record keys are `<index>:<record>`, both keyed hashes: the index names a subject of a service, the record
 * one kind and parameter set of it. (Redis puts the index in a hash tag, so a subject's keys share a slot.)
 */
export function indexOf (key: string): string {
  return key.slice(0, key.indexOf(':'))
}

export interface RecordStore {
  get (key: string): Promise<Buffer | null>
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
  /** A lock token when the lock was free, or null. */
  lock (key: string, ttlMs: number): Promise<string | null>
  unlock (key: string, token: string): Promise<void>
  isLocked (key: string): Promise<boolean>
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
  readonly #listeners: Array<(e: StoreEvent) => void> = []
  readonly #maxEntries: number
  #seq = 0

  constructor (maxEntries = 100_000) {
    this.#maxEntries = maxEntries
  }

  async get (key: string): Promise<Buffer | null> {
    const e = this.#values.get(key)
    if (e === undefined) return null
    if (e.expiresAt <= Date.now()) {
      this.#values.delete(key)
      return null
    }
    return e.value
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

  async unlock (key: string, token: string): Promise<void> {
    if (this.#locks.get(key)?.token === token) this.#locks.delete(key)
  }

  async isLocked (key: string): Promise<boolean> {
    const held = this.#locks.get(key)
    return held !== undefined && held.expiresAt > Date.now()
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
  }
}
