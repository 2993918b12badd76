/**
 * The gateway's stateful services, chosen once at startup for the composition root (compose.ts); they
 * outlive configuration reloads. Each is a contract with an in-process and a shared implementation.
 *
 * - `createServices`: from the environment — Redis and PostgreSQL when `REDIS_URL` / `DATABASE_URL` are set,
 *   otherwise standalone (in-process stores, jtis journalled and the log in PGlite under DATA_DIR).
 * - `standaloneServices`: in process, without a disk (tests, embedding): the same reuse reader over the
 *   in-memory record store that a standalone gateway runs, never a shortcut around it.
 */
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { GatewayConfig } from '../core/config-types.js'
import { Pseudonymizer } from '../core/pseudonym.js'
import { MemoryQuota, RedisQuota, type QuotaLimiter } from './access/quota.js'
import { MemoryReplayGuard, RedisReplayGuard, type ReplayGuard } from './auth/replay-guard.js'
import { persistentReplayGuard, redisGuardDisk } from './auth/replay-journal.js'
import { createBatchService, type BatchService } from './batch/service.js'
import type { Environment } from './config/env.js'
import { connectRedis, waitReady } from './process/redis.js'
import { RecordCipher } from './reuse/cipher.js'
import type { RecordReader } from './reuse/reader.js'
import { RedisRecordStore } from './reuse/redis-store.js'
import { ReuseReader } from './reuse/reuse-reader.js'
import { MemoryRecordStore, type RecordStore } from './reuse/store.js'
import { openTransactionLog, type TransactionLog } from './txlog/log.js'
import { MemorySink, type TransactionSink } from './txlog/sink.js'

/** How the gateway keeps state, for the startup log and /health/ready. */
export interface ServiceMode {
  readonly replay: 'memory' | 'redis'
  readonly reuse: 'memory' | 'redis'
  readonly log: 'memory' | 'pglite' | 'postgres' | 'queue'
}

/** The gateway's stateful services: chosen once at startup, they outlive configuration reloads. */
export interface GatewayServices {
  readonly mode: ServiceMode
  /** The keyed pseudonyms of the log and the stores (one key: changing it would split them). */
  readonly pseudonymizer: Pseudonymizer
  readonly replayGuard: ReplayGuard
  readonly records: RecordReader
  readonly sink: TransactionSink
  /** The transaction log behind the sink, for the auditor API; null when records only go to memory. */
  readonly log: TransactionLog | null
  readonly quota: QuotaLimiter
  readonly redis: Redis | null
  /** Batch lookups (CONTRACT §10): they need the shared store, so null without Redis. */
  readonly batches: BatchService | null
  close (): Promise<void>
}

/** The reuse reader ("provide once") over a store. */
export function reuseReader (
  config: GatewayConfig, store: RecordStore, opts: { pseudonymizer?: Pseudonymizer, logger?: Logger } = {}
): ReuseReader {
  const logger = opts.logger
  return new ReuseReader({
    store,
    cipher: new RecordCipher(config.gateway.secrets.cacheKeys),
    pseudonymizer: opts.pseudonymizer ?? new Pseudonymizer(config.gateway.secrets.pseudonymKey),
    maxStaleSeconds: config.gateway.reuse.maxStaleSeconds,
    waitTimeoutMs: config.gateway.reuse.waitTimeoutMs,
    hot: { maxAgeMs: config.gateway.reuse.localMs, maxEntries: config.gateway.reuse.localEntries },
    onStoreError: (err) =>
      logger?.warn(
        { err: { message: (err as Error).message } },
        'reuse store unavailable; reading registries directly'
      ),
    onStoreRecovered: () => logger?.info('reuse store available again'),
  })
}

export type ServiceParts = Partial<Omit<GatewayServices, 'close' | 'mode'>>

/**
 * In-process services, each part replaceable (a test puts a Redis replay guard or a real log in): the reuse
 * reader over the in-memory store, the in-memory replay guard and quotas, records kept in memory.
 */
export function standaloneServices (config: GatewayConfig, parts: ServiceParts = {}): GatewayServices {
  const pseudonymizer = parts.pseudonymizer ?? new Pseudonymizer(config.gateway.secrets.pseudonymKey)
  const replayGuard = parts.replayGuard ?? new MemoryReplayGuard()
  const records = parts.records ?? reuseReader(config, new MemoryRecordStore(), { pseudonymizer })
  const log = parts.log ?? null
  const sink = parts.sink ?? log?.sink ?? new MemorySink()
  const quota = parts.quota ?? new MemoryQuota()
  const redis = parts.redis ?? null
  const batches = parts.batches ?? null
  return {
    mode: { replay: redis === null ? 'memory' : 'redis', reuse: 'memory', log: log?.mode ?? 'memory' },
    pseudonymizer,
    replayGuard,
    records,
    sink,
    log,
    quota,
    redis,
    batches,
    async close () {
      await batches?.close()
      await Promise.all([replayGuard.close(), records.close(), quota.close()])
      await (log === null ? sink.close() : log.close())
    },
  }
}

/** The services a gateway process runs on, from its environment. */
export async function createServices (
  env: Environment,
  config: GatewayConfig,
  logger: Logger
): Promise<GatewayServices> {
  const pseudonymizer = new Pseudonymizer(config.gateway.secrets.pseudonymKey)
  if (env.redisUrl === null) {
    const journal = join(env.dataDir, 'replay')
    logger.info(
      { replayJournal: journal },
      'standalone: replay guard (journalled to disk) and reuse store in process'
    )
    const log = await openTransactionLog(env, config, logger, null)
    // jtis are journalled under DATA_DIR: a restart must not reopen tokens already used (CONTRACT §3 v1.1).
    const replayGuard = persistentReplayGuard(journal)
    const records = reuseReader(config, new MemoryRecordStore(), { pseudonymizer, logger })
    return standaloneServices(config, { pseudonymizer, replayGuard, records, log })
  }
  const redis = connectRedis({ url: env.redisUrl, commandTimeoutMs: config.gateway.redis.commandTimeoutMs, logger })
  if (!(await waitReady(redis, 3000))) logger.warn('redis not ready at startup; serving degraded until it is')
  const prefix = config.gateway.redis.keyPrefix
  // jtis guarded alone while Redis was away are journalled under DATA_DIR and written to Redis before serving.
  const replayGuard = new RedisReplayGuard(redis, prefix, {
    disk: redisGuardDisk(join(env.dataDir, 'replay', 'redis')),
    onDegraded: (err) =>
      logger.warn(
        { err: { message: (err as Error).message } },
        'replay guard: redis unavailable, remembering locally'
      ),
    onStateLost: (until) =>
      logger.warn(
        { until: new Date(until).toISOString() },
        'replay guard: redis lost its jtis; guarding locally too'
      ),
  })
  await replayGuard.start()
  const records = reuseReader(config, new RedisRecordStore(redis, prefix), { pseudonymizer, logger })
  const log = await openTransactionLog(env, config, logger, redis)
  logger.info({ prefix }, 'redis: replay guard and reuse store shared across instances')
  const batches = createBatchService(env.redisUrl, config)
  const quota = new RedisQuota(redis, prefix)
  const services = standaloneServices(config, { pseudonymizer, replayGuard, records, log, redis, quota, batches })
  return {
    ...services,
    mode: { replay: 'redis', reuse: 'redis', log: log.mode },
    async close () {
      await services.close()
      redis.disconnect()
    },
  }
}
