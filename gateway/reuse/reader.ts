/**
 * The fetch step's contract for reading a record: answer from what is kept, or load it from the registry.
 * ReuseReader (provide once) implements it over an in-memory or a Redis record store.
 */
import type { CanonicalRecord, RecordKey } from '../../adapters/contract.js'

/** A record as the reader gives it: kept or fresh, and since when. */
export interface LoadedRecord {
  readonly record: CanonicalRecord
  readonly source: 'upstream' | 'reuse'
  /** ISO time the registry provided it. */
  readonly retrievedAt: string
  /** A kept record served past its reuse window (the registry was unreachable). */
  readonly stale: boolean
}

export interface ReadPolicy {
  /** How long a kept record may be reused by this operation; 0 = never reuse. */
  readonly ttlSeconds: number
  /** The registry's timeout: how long one load may take (locks and waits are sized from it). */
  readonly loadTimeoutMs: number
  /**
   * The version of the records the operation's adapter produces (`recordVersion`): a record kept under
   * another version (an older mapping or upstream) is never served.
   */
  readonly version?: string
}

export type Loader = (signal?: AbortSignal) => Promise<CanonicalRecord | null>

export interface RecordReader {
  /** The record for `key`, kept or freshly loaded; null when the registry has none. */
  read (key: RecordKey, policy: ReadPolicy, load: Loader): Promise<LoadedRecord | null>
  /**
   * Drops every kept record of a subject of a service, or of the whole service when no subject is given;
   * resolves with how many were dropped.
   */
  invalidate (service: string, subject?: string): Promise<number>
  close (): Promise<void>
}
