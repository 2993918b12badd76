/**
 * Assembling the transaction log for this process from the environment (CONTRACT §1, §7):
 * - no REDIS_URL: group commit straight into the database;
 * - REDIS_URL: group commit into the BullMQ queue (spooling to disk when Redis is down), drained by log
 *   workers — one inside this process unless NDX_WORKER=false: on a worker thread of its own with PostgreSQL,
 *   on the main thread with PGlite (an embedded database lives in one thread);
 * - the database is PostgreSQL at DATABASE_URL, or embedded PostgreSQL (PGlite) under DATA_DIR.
 */
import { join, resolve } from 'node:path'
import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { waitReady } from '../process/redis.js'
import type { Logger } from 'pino'
import type { GatewayConfig } from '../../core/config-types.js'
import type { Environment } from '../config/env.js'
import { CheckpointKeys, Checkpointer } from './checkpoints.js'
import { LogReader } from './queries.js'
import { migrate } from './schema.js'
import type { TransactionSink } from './sink.js'
import { DirectSink, QueueSink } from './sinks.js'
import { PgliteSql, PgSql, type Sql } from './sql.js'
import { Spool } from './spool.js'
import { LogMaintenance, QUEUE_NAME, reportPoisoned, startLogWorker } from './worker.js'
import { startLogWorkerThread, type LogWorkerHandle } from './worker-thread.js'
import { LogWriter } from './writer.js'

export interface LogStats {
  readonly queueDepth: number | null
  /** Age of the oldest batch waiting in the queue, in ms (how far the database is behind). */
  readonly lagMs: number | null
  readonly spooled: number
  readonly backlog: number
  /** Records the database refused, kept aside in ndx_tx_poisoned (null when the database is not answering). */
  readonly poisoned: number | null
}

export interface TransactionLog {
  readonly mode: 'pglite' | 'postgres' | 'queue'
  readonly sql: Sql
  readonly sink: TransactionSink
  readonly reader: LogReader
  readonly writer: LogWriter
  readonly checkpointer: Checkpointer | null
  /** Public keys checkpoints are verified with: the current one and earlier ones (rotation); null without a key. */
  readonly keys: CheckpointKeys | null
  readonly checkpointEverySeconds: number
  readonly maintenance: LogMaintenance | null
  /** Resolves once this process's log worker (if it runs one) takes batches. */
  ready (): Promise<void>
  /** Null when healthy, else why not. */
  problem (): Promise<string | null>
  stats (): Promise<LogStats>
  close (): Promise<void>
}

function withTimeout<T> (p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref()),
  ])
}

export async function openDatabase (env: Pick<Environment, 'databaseUrl' | 'dataDir'>): Promise<Sql> {
  const sql = env.databaseUrl !== null ? new PgSql(env.databaseUrl) : await PgliteSql.open(join(env.dataDir, 'txlog'))
  await migrate(sql)
  return sql
}

export async function loadCheckpointer (config: GatewayConfig, logger?: Logger): Promise<Checkpointer | null> {
  const file = config.gateway.secrets.checkpointKeyFile
  if (file === undefined || file === '') {
    logger?.warn('no checkpointKeyFile: transaction-log checkpoints are not signed')
    return null
  }
  const checkpointer = await Checkpointer.fromFile(config.gateway.id, resolve(config.dir, file))
  // A rotated key extends the chain of checkpoints signed with the earlier keys.
  const keys = await loadCheckpointKeys(config, checkpointer)
  if (keys !== null) checkpointer.trust(keys)
  return checkpointer
}

/** The checkpoint keys an auditor verifies with: the current key's public half and `checkpointPublicKeys`. */
export async function loadCheckpointKeys (
  config: GatewayConfig, checkpointer: Checkpointer | null
): Promise<CheckpointKeys | null> {
  const files = config.gateway.secrets.checkpointPublicKeys.map((f) => resolve(config.dir, f))
  if (checkpointer === null && files.length === 0) return null
  return CheckpointKeys.fromFiles(files, checkpointer?.publicJwk)
}

export async function openTransactionLog (
  env: Environment,
  config: GatewayConfig,
  logger: Logger,
  redis: Redis | null
): Promise<TransactionLog> {
  const sql = await openDatabase(env)
  const writer = new LogWriter(sql)
  const reader = new LogReader(sql)
  const checkpointer = await loadCheckpointer(config, logger)
  const keys = await loadCheckpointKeys(config, checkpointer)
  const maintenance = new LogMaintenance(sql, writer, checkpointer, config.gateway.log, logger)
  const batch = config.gateway.log

  let sink: DirectSink | QueueSink
  let queue: Queue | null = null
  let producer: Redis | null = null
  let worker: LogWorkerHandle | null = null
  if (redis !== null && env.redisUrl !== null) {
    const bullPrefix = `${config.gateway.redis.keyPrefix}bull`
    // Fails fast while Redis is away (batches spool to disk instead of waiting in memory).
    const conn = redis.duplicate({ enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 1000 })
    producer = conn
    conn.on('error', () => {
      /* reported by the gateway's connection; batches spool meanwhile */
    })
    // BullMQ's first command must find the connection ready, so the queue is made once it is.
    const makeQueue = (): void => {
      if (queue !== null) return
      queue = new Queue(QUEUE_NAME, { connection: conn, prefix: bullPrefix, skipWaitingForReady: true })
      queue.on('error', () => {})
    }
    conn.once('ready', makeQueue)
    if (await waitReady(conn, 2000)) makeQueue()
    sink = new QueueSink(() => queue, new Spool(env.dataDir), batch, {
      probe: () => redis.ping(),
      onSpooled: (n, err) =>
        logger.warn(
          { records: n, err: { message: (err as Error).message } },
          'transaction log: queue unavailable, records spooled to disk'
        ),
      onReplayed: (n) => logger.info({ records: n }, 'transaction log: spooled records moved to the queue'),
    })
    if (sql.kind === 'pglite') worker = startLogWorker(env.redisUrl, bullPrefix, writer, logger)
    else if (env.worker && env.databaseUrl !== null) {
      worker = startLogWorkerThread(
        {
          redisUrl: env.redisUrl,
          databaseUrl: env.databaseUrl,
          bullPrefix,
          logLevel: logger.level,
          nice: config.gateway.log.workerNice,
        },
        logger
      )
    }
  } else {
    sink = new DirectSink(writer, batch, (result) => reportPoisoned(result, logger))
  }
  const mode = producer !== null ? 'queue' : sql.kind
  logger.info(
    {
      mode,
      database: sql.kind,
      worker: worker === null ? 'none' : sql.kind === 'pglite' ? 'main thread' : 'worker thread',
    },
    'transaction log ready'
  )

  return {
    mode,
    sql,
    sink,
    reader,
    writer,
    checkpointer,
    keys,
    checkpointEverySeconds: config.gateway.log.checkpointEverySeconds,
    maintenance,
    ready: async () => {
      await worker?.ready()
    },
    async problem () {
      try {
        await sql.query('SELECT 1')
      } catch (err) {
        return `transaction log database: ${(err as Error).message}`
      }
      if (sink instanceof QueueSink && !sink.queueHealthy) {
        return 'transaction log queue unavailable (records spooling to disk)'
      }
      return null
    },
    async stats () {
      let queueDepth: number | null = null
      let lagMs: number | null = null
      const q: Queue | null = queue
      if (q !== null && producer?.status === 'ready') {
        try {
          const counts = await withTimeout(q.getJobCounts('waiting', 'active', 'delayed'), 1000)
          queueDepth = (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0)
          const [oldest] = await withTimeout(q.getJobs(['waiting', 'delayed'], 0, 0, true), 1000)
          lagMs = oldest === undefined ? 0 : Date.now() - oldest.timestamp
        } catch {
          // Redis away: unknown.
        }
      }
      const poisoned = await withTimeout(writer.poisonedCount(), 1000).catch(() => null)
      const spooled = sink instanceof QueueSink ? sink.spooled : 0
      return { queueDepth, lagMs, spooled, backlog: sink.backlog, poisoned }
    },
    async close () {
      maintenance.close()
      await sink.close()
      await worker?.close()
      await (queue as Queue | null)?.close()
      producer?.disconnect()
      await sql.close()
    },
  }
}
