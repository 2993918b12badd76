/**
 * `npm start`: the bundled registry simulators and a gateway pointed at them — a working system on a
 * machine with nothing but Node installed.
 */
import { readEnvironment } from '../config/env.js'
import { readSimulatorEnvironment } from '../../simulators/env.js'
import { createLogger, startGateway } from '../server.js'
import { startSimulators } from '../../simulators/index.js'

const env = readEnvironment()
const logger = createLogger(env)
try {
  const sims = await startSimulators(readSimulatorEnvironment())
  logger.info(sims.env, 'registry simulators listening')
  await startGateway(env, logger, { onClose: () => sims.close() })
} catch (err) {
  logger.fatal({ err }, 'could not start')
  process.exitCode = 1
  setTimeout(() => process.exit(1), 100).unref()
}
