/**
 * The reuse-or-fetch step's contract: given a record key, answer from what is kept, or load from the
 * registry. The direct reader always loads; the reuse store (provide once) implements the same contract.
 */
import type { CanonicalRecord, LoadedRecord, RecordKey } from '../../adapters/contract.js'

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

export class DirectReader implements RecordReader {
  async read (_key: RecordKey, _policy: ReadPolicy, load: Loader): Promise<LoadedRecord | null> {
    const record = await load()
    return record === null ? null : { record, source: 'upstream', retrievedAt: new Date().toISOString(), stale: false }
  }

  async invalidate (): Promise<number> {
    return 0
  }

  async close (): Promise<void> {}
}
