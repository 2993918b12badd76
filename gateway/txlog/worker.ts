/**
 * The log worker: drains the BullMQ queue into the database, one batch (job) at a time, and runs the log's
 * maintenance — signed checkpoints and retention. `npm run gateway` runs one inside the gateway (a single
 * instance is complete); `npm run worker` runs it alone, for scaling out.
 */
import { Worker } from 'bullmq'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { Checkpointer } from './checkpoints.js'
import { TamperSuspected } from './chain-verify.js'
import { GroupCommit } from './group-commit.js'
import type { TransactionRecord } from './record.js'
import type { Sql } from './sql.js'
import { purge as purgeExpired } from './retention.js'
import type { IsolatedWrite, LogWriter } from './writer.js'

export const QUEUE_NAME = 'txlog'

export interface MaintenanceOptions {
  readonly retentionDays: number
  readonly checkpointEverySeconds: number
}

/** Checkpoints and retention on timers; safe to run in several processes at once. */
export class LogMaintenance {
  readonly #timers: NodeJS.Timeout[] = []
  readonly #sql: Sql
  readonly #writer: LogWriter
  readonly #checkpointer: Checkpointer | null
  readonly #logger: Logger | undefined
  readonly #everySeconds: number

  constructor (
    sql: Sql,
    writer: LogWriter,
    checkpointer: Checkpointer | null,
    opts: MaintenanceOptions,
    logger?: Logger
  ) {
    this.#sql = sql
    this.#writer = writer
    this.#checkpointer = checkpointer
    this.#logger = logger
    this.#everySeconds = opts.checkpointEverySeconds
    if (checkpointer !== null) {
      this.#timers.push(
        setInterval(() => {
          void this.checkpoint()
        }, opts.checkpointEverySeconds * 1000).unref()
      )
    }
    const purge = (): void => {
      purgeExpired(this.#sql, this.#writer, this.#checkpointer, opts.retentionDays).then(
        (dropped) => {
          if (dropped.length > 0) {
            this.#logger?.info({ dropped }, 'transaction log: partitions past retention dropped')
          }
        },
        (err: unknown) => this.#failed(err, 'transaction log: retention purge failed')
      )
    }
    purge()
    this.#timers.push(setInterval(purge, 3_600_000).unref())
  }

  async checkpoint (): Promise<{ seq: number; hash: string } | null> {
    if (this.#checkpointer === null) return null
    try {
      return await this.#checkpointer.checkpoint(this.#sql, { everySeconds: this.#everySeconds })
    } catch (err) {
      this.#failed(err, 'transaction log: checkpoint failed')
      return null
    }
  }

  /** A refusal to sign is an alarm (`ndx_txlog_tamper_suspected` counts it), anything else a retry. */
  #failed (err: unknown, msg: string): void {
    if (err instanceof TamperSuspected) {
      this.#logger?.error(
        { err: { code: err.code, message: err.message } },
        'transaction log: tamper suspected; not signed'
      )
    } else {
      this.#logger?.warn({ err }, msg)
    }
  }

  close (): void {
    for (const t of this.#timers) clearInterval(t)
  }
}

export interface LogWorker {
  readonly worker: Worker
  ready (): Promise<void>
  close (): Promise<void>
}

/**
 * Several jobs are taken at once and their records written in one database transaction (group commit
 * again): under load a commit covers many gateway batches, so the database keeps up.
 */
const JOBS_AT_ONCE = 16

/**
 * A batch Redis moved to "active" just before it died (persisted, but the reply never reached the worker)
 * is held by nobody: BullMQ takes it back only once its lock expires and a stall check runs. Its defaults
 * (30 s + 30 s) kept such records out of the log for up to a minute after Redis came back, and after one
 * stall too many they moved a batch to "failed", never to be written. Batches are written in well under a
 * second and rewriting one is harmless (records are idempotent by id), so: short locks, frequent checks,
 * no limit on stalls.
 */
export const RECOVERY = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 1_000_000 } as const

export function startLogWorker (redisUrl: string, bullPrefix: string, writer: LogWriter, logger?: Logger): LogWorker {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null })
  connection.on('error', () => { /* reconnects by itself; the gateway's connection reports outages */ })
  // A job the database refuses is written record by record; poison is kept aside, so the job completes and
  // never holds the records batched with it (or the jobs behind it) out of the log.
  const commit = new GroupCommit<TransactionRecord[]>(async (batches) => {
    reportPoisoned(await writer.writeIsolated(batches.flat()), logger)
  }, { maxItems: JOBS_AT_ONCE, maxWaitMs: 0, concurrency: 1 })
  const worker = new Worker<{ records: TransactionRecord[] }>(QUEUE_NAME, async (job) => {
    await commit.add(job.data.records)
    return { records: job.data.records.length }
  }, { connection, prefix: bullPrefix, concurrency: JOBS_AT_ONCE, ...RECOVERY })
  worker.on('failed', (job, err) =>
    logger?.warn(
      { err: { message: err.message }, job: job?.id, attempts: job?.attemptsMade },
      'transaction log: batch not written yet; will retry'
    )
  )
  worker.on('error', (err) => logger?.warn({ err: { message: err.message } }, 'transaction log worker: redis error'))
  return {
    worker,
    ready: async () => { await worker.waitUntilReady() },
    async close () {
      await worker.close()
      connection.disconnect()
    },
  }
}

/** One error line per record kept aside: an operator must look (`ndx_txlog_poisoned_total` alerts too). */
export function reportPoisoned (result: IsolatedWrite, logger?: Logger): void {
  for (const p of result.poisoned) {
    if (p.kept) {
      logger?.error(
        { txn: p.id, reason: p.error },
        'transaction log: record refused by the database; kept aside in ndx_tx_poisoned'
      )
    } else {
      logger?.error(
        { txn: p.id, reason: p.error, record: p.record },
        'transaction log: record refused by the database and not kept aside'
      )
    }
  }
}
