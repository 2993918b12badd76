/**
 * The app factory: builds a gateway from a loaded configuration and its services (stores, sinks), without
 * listening. `server.ts` is what loads config, listens and handles signals.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { GatewayConfig } from '../core/config-types.js'
import { transactionId } from '../core/ids.js'
import { loggerOptions } from './ops/logger.js'
import { Pseudonymizer } from '../core/pseudonym.js'
import { Runtime, type BuiltinRoute } from './runtime/runtime.js'
import type { BuiltinHandler, RequestPathDeps } from './pipeline/request-path.js'
import type { GatewayServices } from './services.js'
import { NOTIFICATION_ROUTE, notificationHandler } from './builtins/notifications.js'
import { AUDIT_ROUTES, auditHandlers } from './builtins/audit.js'
import { AUDIT_EXPORT_ROUTE, auditExportHandler } from './builtins/audit-export.js'
import { ADMIN_ROUTES, adminHandlers } from './builtins/admin.js'
import { describeReload, type ReloadResult } from './builtins/reload.js'
import { BATCH_ROUTES, batchHandlers } from './builtins/batches.js'
import type { BatchService } from './batch/service.js'
import type { QuotaLimiter } from './access/quota.js'
import { MemoryVerifyBudget, RedisVerifyBudget, verifyBudgetGate } from './access/verify-budget.js'
import { GatewayError, problem, problemBody } from '../core/errors.js'
import { Metrics } from './ops/metrics.js'
import { localCluster, RedisCluster, type Cluster } from './ops/cluster.js'
import { changedRecordVersions, GATEWAY_VERSION } from './reuse/record-version.js'
import { openApiDocument } from './ops/openapi.js'
import ops from './plugins/ops.js'
import body from './plugins/body.js'
import errors, { sendProblem } from './plugins/errors.js'
import shed from './plugins/shed.js'
import transactions, { isV1, openTransaction, toRecord as recordOf } from './plugins/transactions.js'
import { clientErrorHandler, connectHandler } from './http/client-errors.js'
import { dispatched, replying, watchHeads } from './http/socket-heads.js'
import v1 from './plugins/v1.js'

export interface AppOptions {
  readonly config: GatewayConfig
  readonly services: GatewayServices
  /** Reads the configuration directory again (SIGHUP, POST /v1/admin/reload); without it, reloads are refused. */
  readonly loadConfig?: () => Promise<GatewayConfig>
  /** A pino logger configuration, `false` for none; default: info-level JSON. */
  readonly logger?: FastifyServerOptions['logger']
  readonly loggerInstance?: FastifyServerOptions['loggerInstance']
  /** Load shedding (503 gateway.unavailable): default 1000 ms of mean event-loop delay, 5000 requests in progress. */
  readonly shed?: { readonly maxEventLoopDelayMs?: number, readonly maxInflight?: number, readonly sampleMs?: number }
  /** Batch lookups (needs Redis); without it, batch routes answer 503. */
  readonly batches?: BatchService | null
  /** Fastify's trustProxy (see Environment.trustProxy); default false: X-Forwarded-For is ignored. */
  readonly trustProxy?: number | string | false
}

/** The configuration currently serving, and how it is replaced. */
export interface GatewayState {
  current (): Runtime
  /** Swaps in a new configuration; requests in flight finish on the one they started with. */
  replace (config: GatewayConfig): ReloadResult
  /**
   * Loads the configuration directory again and swaps it in; rejects with a ConfigError and changes nothing.
   * An operator's reload (`announce`, the default) makes every instance sharing the Redis reload too, and
   * drops the records kept under mappings or upstreams it changed.
   */
  reload (opts?: { announce?: boolean }): Promise<ReloadResult>
  pseudonymizer (): Pseudonymizer
}

declare module 'fastify' {
  interface FastifyInstance {
    gateway: GatewayState
    metrics: Metrics
    cluster: Cluster
    /** The failed-verification budget gate (CONTRACT §5 v1.1), shared with batch items run in this process. */
    verifyBudget: NonNullable<RequestPathDeps['verifyBudget']>
  }
}

/** Routes the gateway serves itself, beside the configured operations. */
export const BUILTIN_ROUTES: readonly BuiltinRoute[] = [
  NOTIFICATION_ROUTE, ...AUDIT_ROUTES, AUDIT_EXPORT_ROUTE, ...ADMIN_ROUTES, ...BATCH_ROUTES,
]

function builtinHandlers (
  services: GatewayServices, state: GatewayState, cluster: Cluster, batches: BatchService | null,
): Record<string, BuiltinHandler> {
  return {
    [NOTIFICATION_ROUTE.name]: notificationHandler(services.records),
    ...auditHandlers(services.log, () => state.pseudonymizer()),
    [AUDIT_EXPORT_ROUTE.name]: auditExportHandler(services.log, () => state.pseudonymizer()),
    ...adminHandlers({ reload: () => state.reload(), cluster: () => cluster, records: services.records }),
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

/** Refusals that come before the caller is identified: the token could not be tied to an agency's key. */
const UNIDENTIFIED: ReadonlySet<string> = new Set([
  'auth.missing', 'auth.malformed', 'auth.unknown_client', 'auth.unknown_key', 'auth.algorithm', 'auth.signature',
])

/**
 * Bounds requests refused before an agency is identified, per source address (`quota.unauthenticatedPerMinute`,
 * one count across instances): past it they are answered 429 instead. Runs only on refusals, so requests
 * that verify never pay for it. The address is hashed for its key name.
 */
function unidentifiedGate (
  limiter: QuotaLimiter, metrics: Metrics, pseudonymizer: Pseudonymizer,
): NonNullable<RequestPathDeps['unidentified']> {
  return async (req, err, runtime) => {
    if (!(err instanceof GatewayError) || !UNIDENTIFIED.has(err.code)) return
    const perMinute = runtime.config.gateway.quota.unauthenticatedPerMinute
    // Keyed like every other pseudonym: a bare hash of an IPv4 address is reversed by trying all 2^32.
    const address = pseudonymizer.of('key', req.ip ?? '')
    const d = await limiter.take(`anon:${address}`, perMinute)
    if (d.allowed) return
    metrics.unauthenticatedRefused()
    throw problem('quota.exceeded', `More than ${perMinute} unverifiable requests per minute from this address`, {
      headers: { 'retry-after': String(d.retryAfterSeconds) },
    })
  }
}

/** The reply when a record cannot be kept: nothing is served unrecorded. */
function unrecordable (): ReturnType<typeof problem> {
  return problem('gateway.unavailable', 'The gateway cannot record transactions now; try again shortly')
}

/**
 * Node's HTTP server settings: its timeouts bound how long a head or body may take (a client that stops
 * mid-request is answered 400 and recorded by http/client-errors.ts, instead of holding the socket), and
 * its bare, unrecorded 400 for a missing Host is left to the transaction plugin.
 */
function httpOptions (limits: GatewayConfig['gateway']['limits']): import('node:http').ServerOptions {
  const ms = limits.requestTimeoutMs
  // Node checks its timeouts on this interval (30 s by default): a quarter of the limit keeps overshoot small.
  const checkEvery = Math.max(50, Math.min(30_000, Math.floor(ms / 4)))
  return { requireHostHeader: false, headersTimeout: Math.min(60_000, ms), connectionsCheckingInterval: checkEvery }
}

/** A hop count becomes proxy-addr's "trust the first n hops" function (fastify's types omit the number form). */
function trustedProxies (trust: number | string | false): string | boolean | ((addr: string, hop: number) => boolean) {
  return typeof trust === 'number' ? (_addr, hop) => hop < trust : trust
}

export async function buildApp (opts: AppOptions): Promise<FastifyInstance> {
  const { config, services } = opts
  let lost = (_err: unknown, _txn: string): void => {}
  const clientErrorDeps = {
    sink: () => services.sink, pseudonymizer: () => pseudonymizer, onLost: (err: unknown, txn: string) => lost(err, txn),
  }
  const app = Fastify({
    ...(opts.loggerInstance === undefined ? { logger: opts.logger ?? loggerOptions('info') } : { loggerInstance: opts.loggerInstance }),
    // Fastify's own request lines carry the raw URL (personal ids); the transaction plugin logs instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.gateway.limits.bodyBytes,
    exposeHeadRoutes: false,
    // Off: fastify's own reply is plain JSON and unrecorded; plugins/shed.ts refuses with problem+json.
    return503OnClosing: false,
    // The id is noted on the connection: a parser error or timeout there before the reply is this request's.
    genReqId: (raw) => dispatched(raw, transactionId()),
    requestTimeout: config.gateway.limits.requestTimeoutMs,
    http: httpOptions(config.gateway.limits),
    clientErrorHandler: clientErrorHandler(clientErrorDeps),
    // A target the router cannot decode (bad percent-encoding) fails before the hooks run and outside the
    // error handler (no onSend either): it is opened as a transaction here, refused like any invalid
    // request, and its record kept before the reply goes, as onSend would.
    frameworkErrors: (_err, rawReq, reply) => {
      const req = rawReq as FastifyRequest
      const r = reply as unknown as FastifyReply
      const gerr = problem('request.invalid', 'The request target is not valid percent-encoding',
        { errors: [{ in: 'path', name: 'target', reason: 'malformed percent-encoding' }] })
      if (!isV1(req.url)) return void sendProblem(req, r, gerr)
      openTransaction(req, r)
      const txn = req.txn as NonNullable<FastifyRequest['txn']>
      txn.code = gerr.code
      const body = JSON.stringify(problemBody(gerr, txn.id))
      // Recorded here: the hook must not record it a second time if it ever runs.
      req.txn = undefined
      if (replying(req.raw) !== true) return
      const send = (status: number, text: string): void => {
        void r.code(status).type('application/problem+json; charset=utf-8').header('cache-control', 'no-store')
          .send(text)
      }
      const record = recordOf(txn, gerr.status, Buffer.byteLength(body), pseudonymizer)
      services.sink.append(record).then(() => send(gerr.status, body), (err: unknown) => {
        lost(err, txn.id)
        send(503, JSON.stringify(problemBody(unrecordable(), txn.id)))
      })
    },
    routerOptions: { maxParamLength: 256 },
    // Only then does req.ip come from X-Forwarded-For: otherwise any client could pick its own address.
    trustProxy: trustedProxies(opts.trustProxy ?? false),
  })

  lost = (err, txn) => app.log.error({ err, txn }, 'transaction record could not be kept; reply withheld')
  watchHeads(app.server)
  app.server.on('connect', connectHandler(clientErrorDeps))
  const onJwksError = (err: unknown, agency: string): void => app.log.warn({ err, agency }, 'JWKS fetch failed; keeping known keys')
  let runtime = new Runtime(config, { builtins: BUILTIN_ROUTES, onJwksError })
  // The pseudonym key is read once: changing it would split the log's pseudonyms (restart to rotate).
  const pseudonymizer = new Pseudonymizer(config.gateway.secrets.pseudonymKey)
  // Beside the quotas: Redis when the services have it, so every instance shares one count.
  const verifyBudget = services.redis === null
    ? new MemoryVerifyBudget()
    : new RedisVerifyBudget(services.redis, config.gateway.redis.keyPrefix)
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
    async reload ({ announce = true } = {}) {
      if (opts.loadConfig === undefined) throw problem('gateway.unavailable', 'This gateway was started without a configuration directory to reload')
      const before = runtime.config
      let result: ReloadResult
      try {
        result = state.replace(await opts.loadConfig())
      } catch (err) {
        metrics.reload(false)
        await cluster.reloaded('refused', false)
        const issues = (err as { issues?: unknown }).issues
        const why = issues === undefined ? { err } : { issues }
        if (!announce) app.log.error(why, 'announced reload refused; the running configuration keeps serving')
        throw err
      }
      metrics.reload(true)
      app.log.info({ digest: result.digest, announced: announce }, 'configuration reloaded')
      // Records kept under a changed mapping are unreachable already (their version is in their name);
      // dropping them also keeps them from coming back should the change be reverted.
      if (announce) await dropChangedRecords(before, runtime.config)
      await cluster.reloaded('applied', announce)
      return result
    },
    pseudonymizer: () => pseudonymizer,
  }
  const dropChangedRecords = async (before: GatewayConfig, after: GatewayConfig): Promise<void> => {
    for (const service of changedRecordVersions(before.services, after.services)) {
      try {
        const dropped = await services.records.invalidate(service)
        app.log.info({ service, dropped }, 'mapping or upstream changed; kept records dropped')
      } catch {
        app.log.warn({ service }, 'mapping or upstream changed; kept records not dropped (they are never served)')
      }
    }
  }
  const clusterOptions = {
    version: GATEWAY_VERSION,
    configDigest: () => runtime.config.digest,
    reload: () => state.reload({ announce: false }),
    logger: app.log,
  }
  let cluster: Cluster
  if (services.redis === null) {
    cluster = localCluster(clusterOptions)
  } else {
    const shared = new RedisCluster(services.redis, config.gateway.redis.keyPrefix, clusterOptions)
    await shared.start()
    cluster = shared
  }
  app.decorate('gateway', state)
  app.decorate('metrics', metrics)
  app.decorate('cluster', cluster)
  const verifyGate = verifyBudgetGate(verifyBudget, pseudonymizer, metrics)
  app.decorate('verifyBudget', verifyGate)
  app.addHook('onClose', async () => { await runtime.close() })
  // Graceful shutdown: replies finished while closing ask the client to close their connection, so the
  // server is not kept open by keep-alive sockets after the last request in flight.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    await cluster.close()
  })
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })

  await app.register(errors)
  await app.register(body)
  await app.register(transactions, { sink: () => services.sink, pseudonymizer: () => pseudonymizer, onRecord: (r) => metrics.record(r) })
  await app.register(shed, {
    isClosing: () => closing,
    maxEventLoopDelayMs: opts.shed?.maxEventLoopDelayMs ?? 1000,
    maxInflight: opts.shed?.maxInflight ?? 5000,
    ...(opts.shed?.sampleMs === undefined ? {} : { sampleMs: opts.shed.sampleMs }),
  })
  await app.register(v1, {
    current: () => runtime,
    replayGuard: services.replayGuard,
    records: services.records,
    metrics,
    admit: quotaGate(services.quota),
    unidentified: unidentifiedGate(services.quota, metrics, pseudonymizer),
    verifyBudget: verifyGate,
    builtins: builtinHandlers(services, state, cluster, opts.batches ?? null),
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
