/**
 * The two ways a record reaches the log, both behind the TransactionSink contract:
 * - `DirectSink`: group commit straight into the database (standalone PGlite, or PostgreSQL without Redis);
 * - `QueueSink`: group commit into a BullMQ queue (one job per batch) that log workers drain into
 *   PostgreSQL; when the queue cannot take a batch, the batch is spooled to local disk and replayed later.
 * Either way `append` resolves only once the record is durable.
 */
import type { Queue } from 'bullmq'
import { GroupCommit } from './group-commit.js'
import type { TransactionRecord } from './record.js'
import { sinkClosed, type TransactionSink } from './sink.js'
import type { Spool } from './spool.js'
import type { IsolatedWrite, LogWriter } from './writer.js'

export interface BatchOptions {
  readonly batchMaxRecords: number
  readonly batchMaxWaitMs: number
}

/**
 * The default report of a DirectSink given no logger: one JSON error line (pino's shape, level 50) per record
 * the database refused, so an operator sees it. Records hold no personal data (CONTRACT §7).
 */
export function reportPoisonToStderr (
  result: IsolatedWrite, out: { write (line: string): unknown } = process.stderr
): void {
  for (const p of result.poisoned) {
    out.write(JSON.stringify({
      level: 50,
      time: Date.now(),
      txn: p.id,
      reason: p.error,
      ...(p.kept ? {} : { record: p.record }),
      msg: p.kept
        ? 'transaction log: record refused by the database; kept aside in ndx_tx_poisoned'
        : 'transaction log: record refused by the database and not kept aside',
    }) + '\n')
  }
}

export class DirectSink implements TransactionSink {
  readonly #commit: GroupCommit<TransactionRecord>
  #closed = false

  /**
   * `onWritten` hears what each batch came to (records kept aside as poison); without it, poison is still
   * reported, as an error line on stderr (`reportPoisonToStderr`), never dropped silently.
   */
  constructor (
    writer: LogWriter, opts: BatchOptions, onWritten: (result: IsolatedWrite) => void = reportPoisonToStderr
  ) {
    // A batch the database refuses is written record by record and poison kept aside: one request's record
    // never turns the replies of the others into 503. The write is awaited on its own statement: written as
    // `onWritten?.(await writer.writeIsolated(…))`, an absent callback short-circuits the call and its
    // arguments, so the records were never written at all.
    this.#commit = new GroupCommit(async (records) => {
      const result = await writer.writeIsolated(records)
      onWritten(result)
    }, { maxItems: opts.batchMaxRecords, maxWaitMs: opts.batchMaxWaitMs, concurrency: 1 })
  }

  append (record: TransactionRecord): Promise<void> {
    // close's promise covers what was appended before it; a later record would race its owner closing the database.
    if (this.#closed) return Promise.reject(sinkClosed())
    return this.#commit.add(record)
  }

  get backlog (): number {
    return this.#commit.backlog
  }

  async close (): Promise<void> {
    this.#closed = true
    await this.#commit.drain()
  }
}

export const JOB_NAME = 'records'
export const JOB_OPTIONS = {
  removeOnComplete: true,
  removeOnFail: false,
  // PostgreSQL may be down for a while: keep retrying every few seconds rather than ever dropping a batch.
  attempts: 100_000,
  backoff: { type: 'fixed', delay: 2000 },
} as const

export interface QueueSinkEvents {
  /** Answers when Redis does (a PING): replay starts only then. */
  probe: () => Promise<unknown>
  onSpooled?: (records: number, err: unknown) => void
  onReplayed?: (records: number) => void
}

export class QueueSink implements TransactionSink {
  /** Null until the producer connection is first ready (BullMQ cannot start on a dead connection). */
  readonly #queue: () => Queue | null
  readonly #spool: Spool
  readonly #commit: GroupCommit<TransactionRecord>
  readonly #events: QueueSinkEvents
  readonly #timer: NodeJS.Timeout
  #replaying: Promise<void> | null = null
  #queueHealthy = true
  #closed = false

  constructor (
    queue: () => Queue | null,
    spool: Spool,
    opts: BatchOptions & { concurrency?: number },
    events: QueueSinkEvents
  ) {
    this.#queue = queue
    this.#spool = spool
    this.#events = events
    this.#commit = new GroupCommit((records) => this.#deliver(records), {
      maxItems: opts.batchMaxRecords,
      maxWaitMs: opts.batchMaxWaitMs,
      concurrency: opts.concurrency ?? 1,
    })
    this.#timer = setInterval(() => {
      void this.replay()
    }, 1000).unref()
    void this.replay()
  }

  append (record: TransactionRecord): Promise<void> {
    // close's promise covers what was appended before it; a later record could land in a spool no one replays here.
    if (this.#closed) return Promise.reject(sinkClosed())
    return this.#commit.add(record)
  }

  /** Whether the last batch went to the queue (false while spooling). */
  get queueHealthy (): boolean {
    return this.#queueHealthy
  }

  get spooled (): number {
    return this.#spool.size
  }

  get backlog (): number {
    return this.#commit.backlog
  }

  async #deliver (records: TransactionRecord[]): Promise<void> {
    try {
      const queue = this.#queue()
      if (queue === null) throw new Error('queue not connected yet')
      await queue.add(JOB_NAME, { records }, JOB_OPTIONS)
      this.#queueHealthy = true
    } catch (err) {
      this.#queueHealthy = false
      // If the disk fails too, the promise rejects and the replies are withheld (gateway.unavailable).
      await this.#spool.write(records)
      this.#events.onSpooled?.(records.length, err)
    }
  }

  /** Moves spooled records into the queue once it answers. */
  replay (): Promise<void> {
    this.#replaying ??= (async () => {
      try {
        if (!(await this.#spool.pending())) return
        await this.#events.probe()
        const queue = this.#queue()
        if (queue === null) return
        const n = await this.#spool.replay(async (records) => {
          await queue.add(JOB_NAME, { records }, JOB_OPTIONS)
        })
        if (n > 0) this.#events.onReplayed?.(n)
        this.#queueHealthy = true
      } catch {
        // Still down: try again on the next tick.
      }
    })().finally(() => {
      this.#replaying = null
    })
    return this.#replaying
  }

  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    await this.#commit.drain()
    await this.#replaying
    await this.#spool.close()
  }
}
