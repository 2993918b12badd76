/** `npm run gateway`: the gateway alone. */
import { readEnvironment } from '../config/env.js'
import { createLogger, startGateway } from '../server.js'

const env = readEnvironment()
const logger = createLogger(env)
try {
  await startGateway(env, logger)
} catch (err) {
  logger.fatal({ err }, 'could not start')
  process.exitCode = 1
  setTimeout(() => process.exit(1), 100).unref()
}
