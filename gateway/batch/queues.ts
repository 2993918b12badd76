/**
 * Batch items on BullMQ: one queue per registry (`batch-<service>`), one job per item, and workers that
 * run them at the registry's pace.
 *
 * Pace: every worker of a registry's queue takes `limiter: { max: upstream.maxRequestsPerSecond, duration:
 * 1000 }`. BullMQ keeps that limiter's counter in Redis, so it holds across all workers and processes
 * together. Single calls never wait on it: a batch can use at most that share of the registry.
 *
 * Fairness: a batch never has more than `batch.window` items queued. Each finished item queues the item
 * `window` places after it, at the tail of the queue, so batches take turns: one agency's million-item
 * batch keeps `window` jobs in the queue, and another's hundred-item batch submitted after it waits for at
 * most `window` jobs of each running batch, never for the million. (BullMQ groups, which would do this per
 * agency, are a BullMQ Pro feature.)
 *
 * Crash safety: job ids are `<batch>-<index>`, so queuing an item twice is a no-op while its job exists;
 * an item is queued before the job that queues it completes, and a worker that dies leaves its jobs
 * stalled, taken up again by any worker within seconds (see RECOVERY). The item itself runs once
 * (run-item.ts).
 */
import { Queue, Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { ServiceSpec } from '../../core/config-types.js'
import type { ItemRunner } from './run-item.js'

export interface ItemJob {
  /** Batch id. */
  readonly b: string
  /** Item index. */
  readonly i: number
  /** Items in the batch. */
  readonly n: number
  /** The batch's window: how many of its items are queued at once. */
  readonly w: number
}

export function queueName (service: string): string {
  return `batch-${service}`
}

function jobId (batchId: string, index: number): string {
  return `${batchId}-${index}`
}

/** A dead worker's jobs are taken back within seconds; a job is never failed for stalling. */
const RECOVERY = { lockDuration: 15_000, stalledInterval: 5_000, maxStalledCount: 1_000_000 } as const

/** Kept job ids make re-queuing a finished item a no-op for a day; after that the result check is enough. */
const JOB_OPTIONS = {
  attempts: 1_000,
  backoff: { type: 'fixed', delay: 1000 },
  removeOnComplete: { age: 86_400, count: 200_000 },
  removeOnFail: { age: 86_400 },
} as const

/** Queues items: used by whoever accepts batches and by the workers (the next item of the window). */
export class BatchQueues {
  readonly #connection: Redis
  readonly #prefix: string
  readonly #queues = new Map<string, Queue<ItemJob>>()

  constructor (redisUrl: string, bullPrefix: string) {
    this.#connection = new Redis(redisUrl, { maxRetriesPerRequest: null })
    this.#connection.on('error', () => { /* reconnects by itself; the gateway's connection reports outages */ })
    this.#prefix = bullPrefix
  }

  #queue (service: string): Queue<ItemJob> {
    let q = this.#queues.get(service)
    if (q === undefined) {
      q = new Queue<ItemJob>(queueName(service), { connection: this.#connection, prefix: this.#prefix })
      q.on('error', () => {})
      this.#queues.set(service, q)
    }
    return q
  }

  /** Queues the first window of a new batch. */
  async start (service: string, batchId: string, total: number, window: number): Promise<void> {
    const n = Math.min(total, window)
    const jobs = Array.from({ length: n }, (_, i) => ({
      name: 'item',
      data: { b: batchId, i, n: total, w: window },
      opts: { ...JOB_OPTIONS, jobId: jobId(batchId, i) },
    }))
    await this.#queue(service).addBulk(jobs)
  }

  /** Queues the item `window` places after a finished one, if there is one. */
  async next (service: string, job: ItemJob): Promise<void> {
    const i = job.i + job.w
    if (i >= job.n) return
    await this.#queue(service).add('item', { ...job, i }, { ...JOB_OPTIONS, jobId: jobId(job.b, i) })
  }

  async close (): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => q.close()))
    this.#connection.disconnect()
  }
}

export interface BatchWorkers {
  close (): Promise<void>
}

export interface BatchWorkerOptions {
  readonly redisUrl: string
  readonly bullPrefix: string
  readonly services: readonly ServiceSpec[]
  /** Items one process runs at once per registry. */
  readonly concurrency: number
  readonly runner: ItemRunner
  readonly queues: BatchQueues
  readonly logger?: Logger
}

/** One worker per registry, paced by its `upstream.maxRequestsPerSecond`. */
export function startBatchWorkers (opts: BatchWorkerOptions): BatchWorkers {
  const connection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null })
  connection.on('error', () => {})
  const workers = opts.services.map((service) => {
    const rps = service.upstream.maxRequestsPerSecond
    const worker = new Worker<ItemJob>(queueName(service.service), async (job: Job<ItemJob>) => {
      const outcome = await opts.runner.run(job.data.b, job.data.i)
      if (outcome !== 'closed') await opts.queues.next(service.service, job.data)
      return outcome
    }, {
      connection,
      prefix: opts.bullPrefix,
      concurrency: opts.concurrency,
      ...(rps === undefined ? {} : { limiter: { max: rps, duration: 1000 } }),
      ...RECOVERY,
    })
    worker.on('failed', (job, err) => {
      opts.logger?.warn({ err: { message: err.message }, job: job?.id }, 'batch item not finished; will retry')
    })
    worker.on('error', (err) => opts.logger?.warn({ err: { message: err.message } }, 'batch worker: redis error'))
    return worker
  })
  return {
    async close () {
      await Promise.all(workers.map((w) => w.close()))
      connection.disconnect()
    },
  }
}
