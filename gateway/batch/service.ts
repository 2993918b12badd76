/**
 * Batches assembled for one process: the store, the queues and, unless told otherwise, the workers. The
 * composition root (compose.ts) builds one when there is Redis, for the gateway and for `npm run worker`.
 * Without Redis there is none, and batch routes answer `503 gateway.unavailable` (batches must survive
 * a crash of the process that accepted them, which only a shared store gives).
 */
import { Redis } from 'ioredis'
import type { GatewayConfig } from '../../core/config-types.js'
import type { Logger } from 'pino'
import { RecordCipher } from '../reuse/cipher.js'
import { BatchQueues, startBatchWorkers, type BatchWorkers } from './queues.js'
import { ItemRunner, type ItemRunnerDeps } from './run-item.js'
import { BatchStore } from './store.js'

export interface BatchService {
  readonly store: BatchStore
  readonly queues: BatchQueues
  /** Starts this process's batch workers (once the configuration they follow is serving). */
  startWorkers (deps: BatchWorkerDeps): void
  close (): Promise<void>
}

/** What batch workers need: an item runner's dependencies (their store is the service's own), and a logger. */
export interface BatchWorkerDeps extends Omit<ItemRunnerDeps, 'store'> {
  readonly logger?: Logger
}

export function createBatchService (redisUrl: string, config: GatewayConfig): BatchService {
  const gw = config.gateway
  // A connection of its own: storing a large batch takes longer than the gateway's fail-fast timeout.
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 10_000 })
  redis.on('error', () => { /* reconnects by itself; the gateway's connection reports outages */ })
  const cipher = new RecordCipher(gw.secrets.cacheKeys)
  const store = new BatchStore(redis, gw.redis.keyPrefix, cipher, gw.batch.resultTtlHours)
  const bullPrefix = `${gw.redis.keyPrefix}bull`
  const queues = new BatchQueues(redisUrl, bullPrefix)
  let workers: BatchWorkers | null = null
  return {
    store,
    queues,
    startWorkers (deps) {
      if (workers !== null) return
      const { logger, ...runnerDeps } = deps
      const runner = new ItemRunner({ store, ...runnerDeps })
      // Registries known at startup; one added by a reload gets its worker at the next restart.
      const services = Object.values(config.services)
      workers = startBatchWorkers({
        redisUrl,
        bullPrefix,
        services,
        concurrency: gw.batch.concurrency,
        runner,
        queues,
        ...(logger === undefined ? {} : { logger }),
      })
      logger?.info({ services: services.map((s) => s.service) }, 'batch workers running')
    },
    async close () {
      await workers?.close()
      await queues.close()
      redis.disconnect()
    },
  }
}
