/**
 * `npm run worker`: a transaction-log worker alone — drains the queue into PostgreSQL and signs checkpoints.
 * Run as many as needed; they serialize on the chain head, so the chain keeps one order. It runs batch
 * items too (CONTRACT §10), at each registry's pace; their records go straight to the database.
 */
import closeWithGrace from 'close-with-grace'
import { loadConfig } from '../config/load-config.js'
import { readEnvironment } from '../config/env.js'
import { composeWorker } from '../compose.js'
import { createLogger } from '../server.js'
import { startOrExit } from './fatal.js'

const env = readEnvironment()
const logger = createLogger(env)
await startOrExit(logger, 'worker', async () => {
  if (env.redisUrl === null || env.databaseUrl === null) {
    throw new Error('the worker needs REDIS_URL (the queue) and DATABASE_URL (PostgreSQL)')
  }
  const config = await loadConfig(env.configDir, env.vars)
  const worker = await composeWorker({ ...env, redisUrl: env.redisUrl }, config, logger)
  closeWithGrace(
    { delay: 30_000, logger: { error: (m: unknown) => logger.error({ err: m }, 'closing') } },
    async ({ signal, err }) => {
      if (err !== undefined) logger.error({ err }, 'fatal error; closing')
      else logger.info({ signal }, 'closing')
      await worker.close()
    }
  )
})
