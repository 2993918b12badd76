/**
 * The transaction sink contract: where the gateway hands each record before the reply leaves.
 *
 * `append` resolves only once the record is durable (committed, queued durably or spooled to disk); a
 * rejection means the record could not be kept, and the gateway then refuses to serve the reply.
 * Implementations: `MemorySink` (tests, and the standalone log's front), the PostgreSQL/PGlite writer and the
 * BullMQ queue producer (txlog/).
 */
import type { TransactionRecord } from './record.js'

export interface TransactionSink {
  append (record: TransactionRecord): Promise<void>
  close (): Promise<void>
}

/** Keeps records in memory: for tests and for tools that only need to count. */
export class MemorySink implements TransactionSink {
  readonly records: TransactionRecord[] = []
  async append (record: TransactionRecord): Promise<void> {
    this.records.push(record)
  }

  async close (): Promise<void> {}
}
