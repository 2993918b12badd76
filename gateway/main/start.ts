/**
 * `npm start`: the bundled registry simulators and a gateway pointed at them — a working system on a
 * machine with nothing but Node installed.
 */
import { readEnvironment } from '../config/env.js'
import { readSimulatorEnvironment } from '../../simulators/env.js'
import { startSimulators } from '../../simulators/index.js'
import { createLogger, startGateway } from '../server.js'
import { startOrExit } from './fatal.js'

const env = readEnvironment()
const logger = createLogger(env)
await startOrExit(logger, 'gateway', async () => {
  const sims = await startSimulators(readSimulatorEnvironment())
  logger.info(sims.env, 'registry simulators listening')
  await startGateway(env, logger, { onClose: () => sims.close() })
})
