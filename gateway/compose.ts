/**
 * The composition root: every part of a gateway process is built here, in production and in tests alike,
 * and handed to the parts that use them; its stateful services come from services.ts (`createServices`
 * from the environment, or `standaloneServices` in process).
 *
 * - `composeGateway`: a gateway app over services: its configuration state, pseudonyms, metrics, platform
 *   membership, authorization gates, built-in routes, batch workers; app.ts assembles the plugins.
 * - `composeWorker`: a worker process (`npm run worker`): the log worker, the log's maintenance, batch workers.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import type { Redis } from 'ioredis'
import { pino, type Logger } from 'pino'
import type { GatewayConfig } from '../core/config-types.js'
import { Pseudonymizer } from '../core/pseudonym.js'
import { RedisQuota } from './access/quota.js'
import { MemoryVerifyBudget, RedisVerifyBudget, verifyBudgetGate } from './access/verify-budget.js'
import { buildApp } from './app.js'
import { reuseReader, type GatewayServices } from './services.js'
import { createBatchService } from './batch/service.js'
import { BUILTIN_ROUTES, builtinHandlers } from './builtins/index.js'
import type { Environment } from './config/env.js'
import { localCluster, RedisCluster, type Cluster } from './ops/cluster.js'
import { Metrics } from './ops/metrics.js'
import { connectRedis } from './process/redis.js'
import type { RequestPathDeps } from './pipeline/request-path.js'
import { GATEWAY_VERSION } from './reuse/record-version.js'
import { RedisRecordStore } from './reuse/redis-store.js'
import { Runtime } from './runtime/runtime.js'
import { GatewayState } from './runtime/state.js'
import { loadCheckpointer, openDatabase, type TransactionLog } from './txlog/log.js'
import { DirectSink } from './txlog/sinks.js'
import { LogMaintenance, reportPoisoned, startLogWorker } from './txlog/worker.js'
import { LogWriter } from './txlog/writer.js'

export interface ComposeOptions {
  readonly config: GatewayConfig
  readonly services: GatewayServices
  /** Reads the configuration directory again (SIGHUP, POST /v1/admin/reload); without it, reloads are refused. */
  readonly loadConfig?: () => Promise<GatewayConfig>
  /** The process's logger; default: none (tests). */
  readonly logger?: Logger
  /** Runs this process's batch workers (`NDX_WORKER`), if the services have batches; default false. */
  readonly batchWorkers?: boolean
  /** Load shedding (503 gateway.unavailable): default 1000 ms of mean event-loop delay, 5000 requests in progress. */
  readonly shed?: { readonly maxEventLoopDelayMs?: number, readonly maxInflight?: number, readonly sampleMs?: number }
  /** Fastify's trustProxy (see Environment.trustProxy); default false: X-Forwarded-For is ignored. */
  readonly trustProxy?: number | string | false
}

/** A gateway app over `services`, not listening; closing it closes what was built here (not the services). */
export async function composeGateway (opts: ComposeOptions): Promise<FastifyInstance> {
  const { config, services } = opts
  const logger = opts.logger ?? pino({ level: 'silent' })
  // The pseudonym key is read once: changing it would split the log's pseudonyms (restart to rotate).
  const pseudonymizer = services.pseudonymizer
  let state: GatewayState | null = null
  const metrics = new Metrics({
    redisUp: () => services.redis === null ? null : services.redis.status === 'ready',
    ...(services.log === null ? {} : { log: () => (services.log as TransactionLog).stats() }),
    configDigest: () => (state as GatewayState).current().config.digest,
  })
  state = new GatewayState({
    config,
    builtins: BUILTIN_ROUTES,
    records: services.records,
    metrics,
    logger,
    ...(opts.loadConfig === undefined ? {} : { loadConfig: opts.loadConfig }),
  })
  const gateway = state
  const cluster = await joinPlatform(services.redis, config, gateway, logger)
  gateway.joined(cluster)
  // Beside the quotas: Redis when the services have it, so every instance shares one count.
  const budget = services.redis === null
    ? new MemoryVerifyBudget()
    : new RedisVerifyBudget(services.redis, config.gateway.redis.keyPrefix)
  const batches = services.batches
  const requestPath: RequestPathDeps = {
    current: () => gateway.current(),
    replayGuard: services.replayGuard,
    access: {
      quota: services.quota,
      verifyBudget: verifyBudgetGate(budget, pseudonymizer, metrics),
      pseudonymizer,
      onUnverifiedRefused: () => metrics.unauthenticatedRefused(),
    },
    fetch: { records: services.records, metrics },
    builtins: builtinHandlers({
      records: services.records,
      log: services.log,
      pseudonymizer,
      reload: () => gateway.reload(),
      cluster: () => cluster,
      batches,
    }),
  }
  const app = await buildApp({
    config,
    logger: opts.logger === undefined ? false : opts.logger as FastifyServerOptions['loggerInstance'],
    trustProxy: opts.trustProxy ?? false,
    shed: {
      maxEventLoopDelayMs: opts.shed?.maxEventLoopDelayMs ?? 1000,
      maxInflight: opts.shed?.maxInflight ?? 5000,
      ...(opts.shed?.sampleMs === undefined ? {} : { sampleMs: opts.shed.sampleMs }),
    },
    state: gateway,
    cluster,
    metrics,
    pseudonymizer,
    services,
    requestPath,
  })
  if (batches !== null && opts.batchWorkers === true) {
    batches.startWorkers({
      current: () => gateway.current(), operation: requestPath, sink: services.sink, pseudonymizer, metrics, logger,
    })
  }
  return app
}

/** This instance's place in the platform: alone without Redis, else beside every instance sharing it. */
async function joinPlatform (
  redis: Redis | null, config: GatewayConfig, state: GatewayState, logger: Logger
): Promise<Cluster> {
  const options = {
    version: GATEWAY_VERSION,
    configDigest: () => state.current().config.digest,
    reload: () => state.reload({ announce: false }),
    logger,
  }
  if (redis === null) return localCluster(options)
  const shared = new RedisCluster(redis, config.gateway.redis.keyPrefix, options)
  await shared.start()
  return shared
}

/**
 * `npm run worker`: the transaction-log worker (the queue into PostgreSQL), the log's maintenance (signed
 * checkpoints, retention) and batch workers, without a gateway. Batch items get what the gateway gives its
 * own: the configuration, the shared reuse store and gates; their records go straight to the database.
 */
export async function composeWorker (
  env: Environment & { redisUrl: string }, config: GatewayConfig, logger: Logger
): Promise<{ close (): Promise<void> }> {
  const sql = await openDatabase(env)
  const writer = new LogWriter(sql)
  const prefix = config.gateway.redis.keyPrefix
  const logWorker = startLogWorker(env.redisUrl, `${prefix}bull`, writer, logger)
  const maintenance = new LogMaintenance(
    sql,
    writer,
    await loadCheckpointer(config, logger),
    config.gateway.log,
    logger
  )
  const heartbeat = await startHeartbeat(env.dataDir, async () => {
    await sql.query('SELECT 1')
    return logWorker.worker.isRunning()
  })
  logger.info({ queue: `${prefix}bull` }, 'transaction-log worker running')

  const redis = connectRedis({ url: env.redisUrl, commandTimeoutMs: config.gateway.redis.commandTimeoutMs, logger })
  const pseudonymizer = new Pseudonymizer(config.gateway.secrets.pseudonymKey)
  const runtime = new Runtime(config, { builtins: [] })
  const records = reuseReader(config, new RedisRecordStore(redis, prefix), { pseudonymizer, logger })
  const sink = new DirectSink(writer, config.gateway.log, (result) => reportPoisoned(result, logger))
  const batches = createBatchService(env.redisUrl, config)
  const access = {
    quota: new RedisQuota(redis, prefix),
    verifyBudget: verifyBudgetGate(new RedisVerifyBudget(redis, prefix), pseudonymizer),
    pseudonymizer,
  }
  batches.startWorkers({
    current: () => runtime,
    operation: { access, fetch: { records } },
    sink,
    pseudonymizer,
    logger,
  })
  return {
    async close () {
      clearInterval(heartbeat)
      maintenance.close()
      await batches.close()
      await sink.close()
      await records.close()
      await runtime.close()
      redis.disconnect()
      await logWorker.close()
      await sql.close()
    },
  }
}

/**
 * The container healthcheck (bin/healthcheck.js worker) reads this heartbeat: touched while `healthy` says
 * so, so a stuck worker or a lost database shows as unhealthy.
 */
async function startHeartbeat (dataDir: string, healthy: () => Promise<boolean>): Promise<NodeJS.Timeout> {
  const file = join(dataDir, 'worker.alive')
  await mkdir(dataDir, { recursive: true })
  const beat = async (): Promise<void> => {
    try {
      if (await healthy()) await writeFile(file, new Date().toISOString())
    } catch { /* not healthy now: the heartbeat ages */ }
  }
  await beat()
  return setInterval(() => { void beat() }, 5000)
}
