/**
 * The transaction sink contract: where the gateway hands each record before the reply leaves.
 *
 * Implementations: `MemorySink` (tests, and the standalone log's front), `DirectSink` (group commit into
 * PostgreSQL or PGlite) and `QueueSink` (group commit into the BullMQ queue, spooling to disk while Redis is
 * away), in sinks.ts. Every one passes test/txlog/sink-conformance.test.ts.
 * Left out: the order records are kept in (batches may be written side by side), and what happens to a
 * record after it is kept (chaining, retention: the log's job).
 */
import { GatewayError, problem } from '../../core/errors.js'
import type { TransactionRecord } from './record.js'

export interface TransactionSink {
  /**
   * Resolves only once the record is kept: committed to the log, in the queue, or fsynced to the local
   * spool — never while it is only in this process's memory (MemorySink's memory aside, which is its store).
   * A rejection means the record may not have been kept, and the gateway then withholds the reply (503);
   * a refusal is not permanent: once the storage answers again, later appends are kept. Records appended
   * concurrently are each kept exactly once. Once `close` was called, `append` rejects with
   * `gateway.unavailable` and keeps nothing.
   */
  append (record: TransactionRecord): Promise<void>
  /**
   * Records appended whose `append` has not settled: waiting for a batch or in the batch being written
   * (`ndx_txlog_pending_records`). A record leaves it before its `append` settles, so it is 0 once every
   * append has settled.
   */
  readonly backlog: number
  /**
   * Stops taking records and resolves once every append made before it has settled; the database or queue
   * behind the sink is its owner's to close. Calling it again resolves too.
   */
  close (): Promise<void>
}

/** What `append` rejects with once the sink is closed: the record is not kept, so the reply is withheld. */
export function sinkClosed (): GatewayError {
  return problem('gateway.unavailable', 'The transaction log is closed')
}

/** Keeps records in memory: for tests and for tools that only need to count. */
export class MemorySink implements TransactionSink {
  readonly records: TransactionRecord[] = []
  #closed = false

  async append (record: TransactionRecord): Promise<void> {
    if (this.#closed) throw sinkClosed()
    this.records.push(record)
  }

  /** Always 0: a record is kept as `append` is called. */
  get backlog (): number {
    return 0
  }

  async close (): Promise<void> {
    this.#closed = true
  }
}
