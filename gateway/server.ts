/**
 * Running a gateway: load configuration (refusing to start on any issue), compose the app over the services
 * the environment names (compose.ts), listen, and handle signals — SIGHUP reloads configuration,
 * SIGTERM/SIGINT close gracefully.
 */
import closeWithGrace from 'close-with-grace'
import { pino, type Logger } from 'pino'
import { composeGateway } from './compose.js'
import { createServices } from './services.js'
import { ConfigError, loadConfig } from './config/load-config.js'
import type { Environment } from './config/env.js'
import { loggerOptions } from './process/logger.js'
import { demoAgencies } from './ops/demo-keys.js'
import type { FastifyInstance } from 'fastify'
import type { GatewayConfig } from '../core/config-types.js'

export interface RunningGateway {
  readonly app: FastifyInstance
  readonly url: string
  close (): Promise<void>
}

/** Which of the shipped demo secrets this configuration still uses. */
export function demoSecrets (config: GatewayConfig): string[] {
  const s = config.gateway.secrets
  const found: string[] = []
  if (s.pseudonymKey.startsWith('demo-only')) found.push('secrets.pseudonymKey')
  if (s.cacheKeys.some((k) => Buffer.from(k.key, 'base64').toString('utf8').startsWith('demo-only'))) {
    found.push('secrets.cacheKeys')
  }
  if (s.checkpointKeyFile?.includes('demo/keys') === true) found.push('secrets.checkpointKeyFile')
  return found
}

export function createLogger (env: Environment): Logger {
  return pino(loggerOptions(env.logLevel) as object)
}

export async function startGateway (
  env: Environment,
  logger = createLogger(env),
  opts: { onClose?: () => Promise<void> } = {}
): Promise<RunningGateway> {
  let config
  try {
    config = await loadConfig(env.configDir, env.vars)
  } catch (err) {
    if (err instanceof ConfigError) logger.fatal({ dir: env.configDir, issues: err.issues }, 'configuration refused')
    throw err
  }
  const demo = demoSecrets(config)
  if (demo.length > 0) {
    logger.warn(
      { secrets: demo },
      'DEMO secrets in use: fine for a demo, never for real data (see README, Production)'
    )
  }
  const demoKeys = await demoAgencies(config)
  if (demoKeys.length > 0) {
    // Loud on purpose: anyone holding this repository can call as these agencies, admins and auditors included.
    const msg = 'DEMO AGENCY KEYS LOADED: their private keys are public (demo/keys); never expose this gateway'
    logger.error({ agencies: demoKeys }, msg)
  }
  const services = await createServices(env, config, logger)
  const app = await composeGateway({
    config,
    services,
    logger,
    loadConfig: () => loadConfig(env.configDir, env.vars),
    shed: env.shed,
    batchWorkers: env.worker,
    trustProxy: env.trustProxy,
  })
  app.addHook('onClose', async () => {
    await services.close()
    await opts.onClose?.()
  })

  const onHup = (): void => {
    app.gateway.reload().catch((err: unknown) => {
      logger.error(
        {
          issues: err instanceof ConfigError ? err.issues : undefined,
          err: err instanceof ConfigError ? undefined : err,
        },
        'reload refused; the running configuration keeps serving'
      )
    })
  }
  process.on('SIGHUP', onHup)
  const grace = closeWithGrace(
    { delay: 10_000, skip: ['SIGHUP'], logger: { error: (m: unknown) => logger.error({ err: m }, 'closing') } },
    async ({ signal, err }) => {
      if (err !== undefined) logger.error({ err }, 'fatal error; closing')
      else logger.info({ signal }, 'closing')
      await app.close()
    }
  )
  app.addHook('onClose', async () => {
    process.off('SIGHUP', onHup)
    grace.uninstall()
  })

  // reusePort (Node ≥ 22.12) is passed through to net.Server#listen; fastify's types do not name it yet.
  const listen = { port: env.port, host: env.host, ...(env.reusePort ? { reusePort: true } : {}) }
  const url = await app.listen(listen as { port: number, host: string })
  logger.info({ url, config: env.configDir, digest: config.digest, mode: services.mode }, 'gateway listening')
  return { app, url, close: () => app.close() }
}
