/** `npm run gateway`: the gateway alone. */
import { readEnvironment } from '../config/env.js'
import { createLogger, startGateway } from '../server.js'
import { startOrExit } from './fatal.js'

const env = readEnvironment()
const logger = createLogger(env)
await startOrExit(logger, 'gateway', () => startGateway(env, logger))
