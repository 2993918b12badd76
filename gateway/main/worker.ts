/**
 * `npm run worker`: a transaction-log worker alone — drains the queue into PostgreSQL and signs checkpoints.
 * Run as many as needed; they serialize on the chain head, so the chain keeps one order. It runs batch
 * items too (CONTRACT §10), at each registry's pace; their records go straight to the database.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import closeWithGrace from 'close-with-grace'
import { loadConfig } from '../config/load-config.js'
import { readEnvironment } from '../config/env.js'
import { createLogger } from '../server.js'
import { loadCheckpointer, openDatabase } from '../txlog/log.js'
import { LogMaintenance, startLogWorker } from '../txlog/worker.js'
import { LogWriter } from '../txlog/writer.js'
import { startBatchWorkerProcess } from '../batch/worker-process.js'

const env = readEnvironment()
const logger = createLogger(env)
try {
  if (env.redisUrl === null || env.databaseUrl === null) throw new Error('the worker needs REDIS_URL (the queue) and DATABASE_URL (PostgreSQL)')
  const config = await loadConfig(env.configDir, env.vars)
  const sql = await openDatabase(env)
  const writer = new LogWriter(sql)
  const worker = startLogWorker(env.redisUrl, `${config.gateway.redis.keyPrefix}bull`, writer, logger)
  const maintenance = new LogMaintenance(sql, writer, await loadCheckpointer(config, logger), config.gateway.log, logger)
  logger.info({ queue: `${config.gateway.redis.keyPrefix}bull` }, 'transaction-log worker running')
  // The container healthcheck (bin/healthcheck.js worker) reads this heartbeat: touched while the worker runs
  // and its database answers, so a stuck worker or a lost database shows as unhealthy.
  const heartbeat = join(env.dataDir, 'worker.alive')
  await mkdir(env.dataDir, { recursive: true })
  const beat = async (): Promise<void> => {
    try {
      await sql.query('SELECT 1')
      if (worker.worker.isRunning()) await writeFile(heartbeat, new Date().toISOString())
    } catch { /* not healthy now: the heartbeat ages */ }
  }
  await beat()
  const beating = setInterval(() => { void beat() }, 5000)
  const batches = startBatchWorkerProcess(env.redisUrl, config, writer, logger)
  closeWithGrace({ delay: 30_000, logger: { error: (m: unknown) => logger.error({ err: m }, 'closing') } }, async ({ signal, err }) => {
    if (err !== undefined) logger.error({ err }, 'fatal error; closing')
    else logger.info({ signal }, 'closing')
    clearInterval(beating)
    maintenance.close()
    await batches.close()
    await worker.close()
    await sql.close()
  })
} catch (err) {
  logger.fatal({ err }, 'could not start the worker')
  process.exitCode = 1
  setTimeout(() => process.exit(1), 100).unref()
}
