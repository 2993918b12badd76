/**
 * The app factory: builds a gateway from a loaded configuration and its services (stores, sinks), without
 * listening. `server.ts` is what loads config, listens and handles signals.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { GatewayConfig } from './config/types.js'
import { transactionId } from './ids.js'
import { loggerOptions } from './logger.js'
import { Pseudonymizer } from './pseudonym.js'
import { Runtime, type BuiltinRoute } from './runtime.js'
import type { BuiltinHandler, RequestPathDeps } from './pipeline/request-path.js'
import type { GatewayServices } from './services.js'
import { NOTIFICATION_ROUTE, notificationHandler } from './builtins/notifications.js'
import { AUDIT_ROUTES, auditHandlers } from './builtins/audit.js'
import { ADMIN_ROUTES, adminHandlers } from './builtins/admin.js'
import { describeReload, type ReloadResult } from './builtins/reload.js'
import { BATCH_ROUTES, batchHandlers } from './builtins/batches.js'
import type { BatchService } from './batch/service.js'
import type { QuotaLimiter } from './access/quota.js'
import { problem, problemBody } from './errors.js'
import { Metrics } from './ops/metrics.js'
import { openApiDocument } from './ops/openapi.js'
import ops from './plugins/ops.js'
import body from './plugins/body.js'
import errors, { sendProblem } from './plugins/errors.js'
import transactions, { isV1, openTransaction } from './plugins/transactions.js'
import v1 from './plugins/v1.js'

export interface AppOptions {
  readonly config: GatewayConfig
  readonly services: GatewayServices
  /** Reads the configuration directory again (SIGHUP, POST /v1/admin/reload); without it, reloads are refused. */
  readonly loadConfig?: () => Promise<GatewayConfig>
  /** A pino logger configuration, `false` for none; default: info-level JSON. */
  readonly logger?: FastifyServerOptions['logger']
  readonly loggerInstance?: FastifyServerOptions['loggerInstance']
  /** Batch lookups (needs Redis); without it, batch routes answer 503. */
  readonly batches?: BatchService | null
}

/** The configuration currently serving, and how it is replaced. */
export interface GatewayState {
  current (): Runtime
  /** Swaps in a new configuration; requests in flight finish on the one they started with. */
  replace (config: GatewayConfig): ReloadResult
  /** Loads the configuration directory again and swaps it in; rejects with a ConfigError and changes nothing. */
  reload (): Promise<ReloadResult>
  pseudonymizer (): Pseudonymizer
}

declare module 'fastify' {
  interface FastifyInstance {
    gateway: GatewayState
    metrics: Metrics
  }
}

/** Routes the gateway serves itself, beside the configured operations. */
export const BUILTIN_ROUTES: readonly BuiltinRoute[] = [NOTIFICATION_ROUTE, ...AUDIT_ROUTES, ...ADMIN_ROUTES, ...BATCH_ROUTES]

function builtinHandlers (services: GatewayServices, state: GatewayState, batches: BatchService | null): Record<string, BuiltinHandler> {
  return {
    [NOTIFICATION_ROUTE.name]: notificationHandler(services.records),
    ...auditHandlers(services.log, () => state.pseudonymizer()),
    ...adminHandlers(() => state.reload()),
    ...batchHandlers(batches),
  }
}

/** Admits an identified caller under its agency's quota, or refuses with 429 and Retry-After. */
function quotaGate (limiter: QuotaLimiter): NonNullable<RequestPathDeps['admit']> {
  return async (caller) => {
    const quota = caller.agency.spec.quota
    if (quota === null) return
    const d = await limiter.take(caller.agency.spec.id, quota.perMinute)
    if (!d.allowed) throw problem('quota.exceeded', `Quota of ${quota.perMinute} requests per minute reached`, { headers: { 'retry-after': String(d.retryAfterSeconds) } })
  }
}

/**
 * Requests Node's HTTP parser cannot read (bytes that are not HTTP, headers over the limit) never reach the
 * app: they get a problem+json 400 too, without a transaction id, as they never became a transaction.
 */
function clientErrorHandler (err: Error & { code?: string }, socket: import('node:net').Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const detail = err.code === 'HPE_HEADER_OVERFLOW' ? 'The request headers are too large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'The request was not received in time' : 'The request is not valid HTTP'
  const body = JSON.stringify(problemBody(problem('request.invalid', detail), null))
  if (socket.writable) socket.write(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  socket.destroy()
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
    clientErrorHandler,
    // A target the router cannot decode (bad percent-encoding) fails before the hooks run and outside the
    // error handler: it is opened as a transaction here and refused like any invalid request, and recorded.
    frameworkErrors: (_err, req, reply) => {
      const r = reply as unknown as FastifyReply
      if (isV1(req.url)) openTransaction(req as FastifyRequest, r)
      void sendProblem(req as FastifyRequest, r, problem('request.invalid', 'The request target is not valid percent-encoding', { errors: [{ in: 'path', name: 'target', reason: 'malformed percent-encoding' }] }))
    },
    routerOptions: { maxParamLength: 256 },
  })

  const onJwksError = (err: unknown, agency: string): void => app.log.warn({ err, agency }, 'JWKS fetch failed; keeping known keys')
  let runtime = new Runtime(config, { builtins: BUILTIN_ROUTES, onJwksError })
  // The pseudonym key is read once: changing it would split the log's pseudonyms (restart to rotate).
  const pseudonymizer = new Pseudonymizer(config.gateway.secrets.pseudonymKey)
  let openapi: { runtime: Runtime, doc: Record<string, unknown> } | null = null
  const metrics = new Metrics({
    redisUp: () => services.redis === null ? null : services.redis.status === 'ready',
    ...(services.log === null ? {} : { log: () => (services.log as NonNullable<typeof services.log>).stats() }),
    configDigest: () => runtime.config.digest,
  })
  const state: GatewayState = {
    current: () => runtime,
    replace (next: GatewayConfig) {
      const old = runtime
      runtime = new Runtime(next, { builtins: BUILTIN_ROUTES, previous: old, onJwksError })
      old.retire()
      const result = describeReload(old.config, next)
      if (result.restartRequired.length > 0) app.log.warn({ sections: result.restartRequired }, 'reloaded; these settings apply only after a restart')
      return result
    },
    async reload () {
      if (opts.loadConfig === undefined) throw problem('gateway.unavailable', 'This gateway was started without a configuration directory to reload')
      try {
        const result = state.replace(await opts.loadConfig())
        metrics.reload(true)
        app.log.info({ digest: result.digest }, 'configuration reloaded')
        return result
      } catch (err) {
        metrics.reload(false)
        throw err
      }
    },
    pseudonymizer: () => pseudonymizer,
  }
  app.decorate('gateway', state)
  app.decorate('metrics', metrics)
  app.addHook('onClose', async () => { await runtime.close() })
  // Graceful shutdown: replies finished while closing ask the client to close their connection, so the
  // server is not kept open by keep-alive sockets after the last request in flight.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })

  await app.register(errors)
  await app.register(body)
  await app.register(transactions, { sink: () => services.sink, pseudonymizer: () => pseudonymizer, onRecord: (r) => metrics.record(r) })
  await app.register(v1, {
    current: () => runtime,
    replayGuard: services.replayGuard,
    records: services.records,
    metrics,
    admit: quotaGate(services.quota),
    builtins: builtinHandlers(services, state, opts.batches ?? null),
    batchBodyBytes: config.gateway.limits.batchBodyBytes,
  })
  await app.register(ops, {
    services,
    metrics,
    configDigest: () => runtime.config.digest,
    openapi: () => {
      if (openapi?.runtime !== runtime) openapi = { runtime, doc: openApiDocument(runtime, BUILTIN_ROUTES) }
      return openapi.doc
    },
  })
  return app
}
