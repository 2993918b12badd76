/**
 * Running a gateway: load configuration (refusing to start on any issue), choose services, build the app,
 * listen, and handle signals — SIGHUP reloads configuration, SIGTERM/SIGINT close gracefully.
 */
import closeWithGrace from 'close-with-grace'
import { pino, type Logger } from 'pino'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config/load-config.js'
import type { Environment } from './env.js'
import { loggerOptions } from './logger.js'
import { createServices } from './services.js'
import type { FastifyInstance } from 'fastify'

export interface RunningGateway {
  readonly app: FastifyInstance
  readonly url: string
  close (): Promise<void>
}

export function createLogger (env: Environment): Logger {
  return pino(loggerOptions(env.logLevel) as object)
}

export async function startGateway (env: Environment, logger = createLogger(env), opts: { onClose?: () => Promise<void> } = {}): Promise<RunningGateway> {
  let config
  try {
    config = await loadConfig(env.configDir, env.vars)
  } catch (err) {
    if (err instanceof ConfigError) logger.fatal({ dir: env.configDir, issues: err.issues }, 'configuration refused')
    throw err
  }
  const services = await createServices(env, config, logger)
  const app = await buildApp({ config, services, loggerInstance: logger })
  app.addHook('onClose', async () => {
    await services.close()
    await opts.onClose?.()
  })

  const onHup = (): void => {
    loadConfig(env.configDir, env.vars).then((next) => {
      app.gateway.replace(next)
      logger.info({ digest: next.digest }, 'configuration reloaded')
    }, (err: unknown) => {
      logger.error({ issues: err instanceof ConfigError ? err.issues : undefined, err: err instanceof ConfigError ? undefined : err }, 'reload refused; the running configuration keeps serving')
    })
  }
  process.on('SIGHUP', onHup)
  const grace = closeWithGrace({ delay: 10_000, skip: ['SIGHUP'], logger: { error: (m: unknown) => logger.error({ err: m }, 'closing') } }, async ({ signal, err }) => {
    if (err !== undefined) logger.error({ err }, 'fatal error; closing')
    else logger.info({ signal }, 'closing')
    await app.close()
  })
  app.addHook('onClose', async () => {
    process.off('SIGHUP', onHup)
    grace.uninstall()
  })

  const url = await app.listen({ port: env.port, host: env.host })
  logger.info({ url, config: env.configDir, digest: config.digest, mode: services.mode }, 'gateway listening')
  return { app, url, close: () => app.close() }
}
