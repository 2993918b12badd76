/**
 * The app factory: builds a gateway from a loaded configuration and its services (stores, sinks), without
 * listening. `server.ts` is what loads config, listens and handles signals.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { GatewayConfig } from './config/types.js'
import { transactionId } from './ids.js'
import { loggerOptions } from './logger.js'
import { Pseudonymizer } from './pseudonym.js'
import { Runtime, type BuiltinRoute } from './runtime.js'
import type { BuiltinHandler } from './pipeline/request-path.js'
import type { GatewayServices } from './services.js'
import { NOTIFICATION_ROUTE, notificationHandler } from './builtins/notifications.js'
import { AUDIT_ROUTES, auditHandlers } from './builtins/audit.js'
import body from './plugins/body.js'
import errors from './plugins/errors.js'
import transactions from './plugins/transactions.js'
import v1 from './plugins/v1.js'

export interface AppOptions {
  readonly config: GatewayConfig
  readonly services: GatewayServices
  /** A pino logger configuration, `false` for none; default: info-level JSON. */
  readonly logger?: FastifyServerOptions['logger']
  readonly loggerInstance?: FastifyServerOptions['loggerInstance']
}

/** The configuration currently serving, and how it is replaced. */
export interface GatewayState {
  current (): Runtime
  /** Swaps in a new configuration; requests in flight finish on the one they started with. */
  replace (config: GatewayConfig): void
  pseudonymizer (): Pseudonymizer
}

declare module 'fastify' {
  interface FastifyInstance {
    gateway: GatewayState
  }
}

/** Routes the gateway serves itself, beside the configured operations. */
export const BUILTIN_ROUTES: readonly BuiltinRoute[] = [NOTIFICATION_ROUTE, ...AUDIT_ROUTES]

function builtinHandlers (services: GatewayServices, pseudonymizer: () => Pseudonymizer): Record<string, BuiltinHandler> {
  return {
    [NOTIFICATION_ROUTE.name]: notificationHandler(services.records),
    ...auditHandlers(services.log, pseudonymizer),
  }
}

export async function buildApp (opts: AppOptions): Promise<FastifyInstance> {
  const { config, services } = opts
  const app = Fastify({
    ...(opts.loggerInstance === undefined ? { logger: opts.logger ?? loggerOptions('info') } : { loggerInstance: opts.loggerInstance }),
    // Fastify's own request lines carry the raw URL (personal ids); the transaction plugin logs instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.gateway.limits.bodyBytes,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    genReqId: () => transactionId(),
    routerOptions: { maxParamLength: 256 },
  })

  const onJwksError = (err: unknown, agency: string): void => app.log.warn({ err, agency }, 'JWKS fetch failed; keeping known keys')
  let runtime = new Runtime(config, { builtins: BUILTIN_ROUTES, onJwksError })
  let pseudonymizer = new Pseudonymizer(config.gateway.secrets.pseudonymKey)
  app.decorate('gateway', {
    current: () => runtime,
    replace (next: GatewayConfig) {
      const old = runtime
      runtime = new Runtime(next, { builtins: BUILTIN_ROUTES, previous: old, onJwksError })
      pseudonymizer = new Pseudonymizer(next.gateway.secrets.pseudonymKey)
      old.retire()
    },
    pseudonymizer: () => pseudonymizer,
  } satisfies GatewayState)
  app.addHook('onClose', async () => { await runtime.close() })

  await app.register(errors)
  await app.register(body)
  await app.register(transactions, { sink: () => services.sink, pseudonymizer: () => pseudonymizer })
  await app.register(v1, {
    current: () => runtime,
    replayGuard: services.replayGuard,
    records: services.records,
    builtins: builtinHandlers(services, () => pseudonymizer),
  })
  return app
}
