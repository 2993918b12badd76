/**
 * The app: a fastify instance assembled from parts the composition root (compose.ts) built — the server
 * options, then one plugin per concern, in the order a request meets them. It never listens (server.ts
 * does) and holds no behaviour of its own.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import type { Pseudonymizer } from '../core/pseudonym.js'
import type { GatewayConfig } from '../core/config-types.js'
import type { GatewayServices } from './services.js'
import { serverOptions, type ServerParts } from './http/server-options.js'
import { connectHandler } from './http/client-errors.js'
import { watchHeads } from './http/socket-heads.js'
import type { Cluster } from './ops/cluster.js'
import { readiness } from './ops/health.js'
import type { Metrics } from './ops/metrics.js'
import { cachedDocument } from './openapi/document.js'
import { BUILTIN_ROUTES } from './builtins/index.js'
import type { RequestPathDeps } from './pipeline/request-path.js'
import type { GatewayState } from './runtime/state.js'
import body from './plugins/body.js'
import errors from './plugins/errors.js'
import lifecycle from './plugins/lifecycle.js'
import ops from './plugins/ops.js'
import shed from './plugins/shed.js'
import transactions from './plugins/transactions.js'
import v1 from './plugins/v1.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The configuration serving, and its reloads. */
    gateway: GatewayState
    metrics: Metrics
    cluster: Cluster
    /** The keyed pseudonyms of this gateway's log and stores. */
    pseudonymizer: Pseudonymizer
  }
}

export interface AppParts {
  readonly config: GatewayConfig
  readonly logger: ServerParts['logger']
  readonly trustProxy: ServerParts['trustProxy']
  readonly shed: { readonly maxEventLoopDelayMs: number, readonly maxInflight: number, readonly sampleMs?: number }
  readonly state: GatewayState
  readonly cluster: Cluster
  readonly metrics: Metrics
  readonly pseudonymizer: Pseudonymizer
  readonly services: GatewayServices
  readonly requestPath: RequestPathDeps
}

export async function buildApp (parts: AppParts): Promise<FastifyInstance> {
  const { services, state, metrics, pseudonymizer } = parts
  let lost = (_err: unknown, _txn: string): void => {}
  const server: ServerParts = {
    config: parts.config,
    logger: parts.logger,
    trustProxy: parts.trustProxy,
    sink: services.sink,
    pseudonymizer,
    onLost: (err, txn) => lost(err, txn),
  }
  const app = Fastify(serverOptions(server))
  lost = (err, txn) => app.log.error({ err, txn }, 'transaction record could not be kept; reply withheld')
  watchHeads(app.server)
  app.server.on('connect', connectHandler(server))

  app.decorate('gateway', state)
  app.decorate('metrics', metrics)
  app.decorate('cluster', parts.cluster)
  app.decorate('pseudonymizer', pseudonymizer)
  await app.register(lifecycle, { state, cluster: parts.cluster })
  await app.register(errors)
  await app.register(body)
  await app.register(transactions, { sink: services.sink, pseudonymizer, onRecord: (r) => metrics.record(r) })
  await app.register(shed, { isClosing: () => app.isClosing(), ...parts.shed })
  await app.register(v1, { path: parts.requestPath, batchBodyBytes: parts.config.gateway.limits.batchBodyBytes })
  const configDigest = (): string => state.current().config.digest
  await app.register(ops, {
    readiness: () => readiness({ redis: services.redis, log: services.log, configDigest }),
    metrics,
    openapi: cachedDocument(() => state.current(), BUILTIN_ROUTES),
  })
  return app
}
