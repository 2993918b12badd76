/**
 * A short-lived in-process copy of the records this instance read or kept recently, already opened, so a
 * hot record costs no store round trip, no decryption and no parse. It trades freshness for that, within
 * a bound: an entry is served for at most `maxAgeMs` after it was read from the store (never past its
 * record's reuse window), and it is dropped at once when this instance, or another one through the store's
 * events, invalidates its subject or service. If an invalidation event is lost, a copy lives `maxAgeMs` at
 * most. The copy is keyed by the record's name in clear (service, kind, subject, parameters, version): it
 * stays in this process's memory, bounded in entries and age, and is never written anywhere.
 */
import type { CanonicalRecord } from '../../adapters/contract.js'

export interface HotRecord {
  readonly record: CanonicalRecord
  /** When the registry provided it (ms). */
  readonly retrievedAt: number
  /** The store names: the record's, and its index's (for invalidation). */
  readonly name: string
  readonly index: string
}

interface Entry extends HotRecord { readonly until: number }

export class HotRecords {
  readonly #entries = new Map<string, Entry>()
  readonly #maxEntries: number
  readonly #maxAgeMs: number

  constructor (opts: { maxEntries: number, maxAgeMs: number }) {
    this.#maxEntries = opts.maxEntries
    this.#maxAgeMs = opts.maxAgeMs
  }

  get enabled (): boolean {
    return this.#maxAgeMs > 0 && this.#maxEntries > 0
  }

  /** The copy of the record named `clear`, if one was read within `maxAgeMs`. */
  get (clear: string, now = Date.now()): HotRecord | undefined {
    const e = this.#entries.get(clear)
    if (e === undefined) return undefined
    if (e.until > now) return e
    this.#entries.delete(clear)
    return undefined
  }

  set (clear: string, record: HotRecord, now = Date.now()): void {
    if (!this.enabled) return
    // Insertion order is the eviction order: a refreshed entry moves to the end.
    this.#entries.delete(clear)
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value as string)
    this.#entries.set(clear, { ...record, until: now + this.#maxAgeMs })
  }

  /** Drops the copies under an index (a subject), or under every index starting with `prefix` (a service). */
  drop (match: { index?: string, prefix?: string }): void {
    for (const [clear, e] of this.#entries) {
      if (e.index === match.index || (match.prefix !== undefined && e.index.startsWith(match.prefix))) {
        this.#entries.delete(clear)
      }
    }
  }

  clear (): void {
    this.#entries.clear()
  }

  get size (): number {
    return this.#entries.size
  }
}
