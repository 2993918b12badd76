/**
 * The gateway's stateful services, chosen once at startup: in-process when standalone, Redis and
 * PostgreSQL when `REDIS_URL` / `DATABASE_URL` are set. Everything here outlives configuration reloads.
 */
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { MemoryReplayGuard, RedisReplayGuard, type ReplayGuard } from './auth/replay-guard.js'
import { persistentReplayGuard, redisGuardDisk } from './auth/replay-journal.js'
import type { GatewayConfig } from '../core/config-types.js'
import type { Environment } from './config/env.js'
import { connectRedis, waitReady } from './ops/redis.js'
import { Pseudonymizer } from '../core/pseudonym.js'
import { RecordCipher } from './reuse/cipher.js'
import { DirectReader, type RecordReader } from './reuse/reader.js'
import { RedisRecordStore } from './reuse/redis-store.js'
import { ReuseReader } from './reuse/reuse-reader.js'
import { MemoryRecordStore, type RecordStore } from './reuse/store.js'
import { MemorySink, type TransactionSink } from './txlog/sink.js'
import { openTransactionLog, type TransactionLog } from './txlog/log.js'
import { MemoryQuota, RedisQuota, type QuotaLimiter } from './access/quota.js'

/** How the gateway keeps state, for the startup log and /health/ready. */
export interface ServiceMode {
  readonly replay: 'memory' | 'redis'
  readonly reuse: 'none' | 'memory' | 'redis'
  readonly log: 'memory' | 'pglite' | 'postgres' | 'queue'
}

export interface GatewayServices {
  readonly mode: ServiceMode
  readonly replayGuard: ReplayGuard
  readonly records: RecordReader
  readonly sink: TransactionSink
  /** The transaction log behind the sink, for the auditor API; null when records only go to memory. */
  readonly log: TransactionLog | null
  readonly quota: QuotaLimiter
  readonly redis: Redis | null
  close (): Promise<void>
}

/** In-process services: for tests and the standalone gateway. */
export function memoryServices (overrides: Partial<Omit<GatewayServices, 'close' | 'mode'>> = {}): GatewayServices {
  const replayGuard = overrides.replayGuard ?? new MemoryReplayGuard()
  const records = overrides.records ?? new DirectReader()
  const log = overrides.log ?? null
  const sink = overrides.sink ?? log?.sink ?? new MemorySink()
  const quota = overrides.quota ?? new MemoryQuota()
  return {
    mode: { replay: 'memory', reuse: 'none', log: log?.mode ?? 'memory' },
    replayGuard,
    records,
    sink,
    log,
    quota,
    redis: overrides.redis ?? null,
    async close () {
      await Promise.all([replayGuard.close(), records.close()])
      await (log === null ? sink.close() : log.close())
    },
  }
}

/** The reuse reader ("provide once") over a store, wired to the logger. */
export function reuseReader (config: GatewayConfig, store: RecordStore, logger?: Logger): ReuseReader {
  return new ReuseReader({
    store,
    cipher: new RecordCipher(config.gateway.secrets.cacheKeys),
    pseudonymizer: new Pseudonymizer(config.gateway.secrets.pseudonymKey),
    maxStaleSeconds: config.gateway.reuse.maxStaleSeconds,
    waitTimeoutMs: config.gateway.reuse.waitTimeoutMs,
    onStoreError: (err) => logger?.warn({ err: { message: (err as Error).message } }, 'reuse store unavailable; reading registries directly'),
    onStoreRecovered: () => logger?.info('reuse store available again'),
  })
}

export async function createServices (env: Environment, config: GatewayConfig, logger: Logger): Promise<GatewayServices> {
  if (env.redisUrl === null) {
    const journal = join(env.dataDir, 'replay')
    logger.info({ replayJournal: journal }, 'standalone: replay guard (journalled to disk) and reuse store in process')
    const log = await openTransactionLog(env, config, logger, null)
    // jtis are journalled under DATA_DIR: a restart must not reopen tokens already used (CONTRACT §3 v1.1).
    const replayGuard = persistentReplayGuard(journal)
    const services = memoryServices({ replayGuard, records: reuseReader(config, new MemoryRecordStore(), logger), log })
    return { ...services, mode: { replay: 'memory', reuse: 'memory', log: log.mode } }
  }
  const redis = connectRedis({ url: env.redisUrl, commandTimeoutMs: config.gateway.redis.commandTimeoutMs, logger })
  if (!await waitReady(redis, 3000)) logger.warn('redis not ready at startup; serving degraded until it is')
  const prefix = config.gateway.redis.keyPrefix
  // jtis guarded alone while Redis was away are journalled under DATA_DIR and written to Redis before serving.
  const replayGuard = new RedisReplayGuard(redis, prefix, {
    disk: redisGuardDisk(join(env.dataDir, 'replay', 'redis')),
    onDegraded: (err) => logger.warn({ err: { message: (err as Error).message } }, 'replay guard: redis unavailable, remembering locally'),
    onStateLost: (until) => logger.warn({ until: new Date(until).toISOString() }, 'replay guard: redis lost its jtis; guarding locally too'),
  })
  await replayGuard.start()
  const records = reuseReader(config, new RedisRecordStore(redis, prefix), logger)
  const log = await openTransactionLog(env, config, logger, redis)
  logger.info({ prefix }, 'redis: replay guard and reuse store shared across instances')
  const services = memoryServices({ replayGuard, records, log, redis, quota: new RedisQuota(redis, prefix) })
  return {
    ...services,
    mode: { replay: 'redis', reuse: 'redis', log: log.mode },
    async close () {
      await services.close()
      redis.disconnect()
    },
  }
}
