/**
 * A runtime is one configuration made ready to serve: agencies with their keys, adapters with their pools,
 * a router over every configured operation, and each operation's validators and serializer.
 *
 * Runtimes are immutable. A reload builds a new one and swaps it in; each request pins the runtime it
 * started on (`acquire`/`release`), and a replaced runtime closes its pools only once its last request ends.
 */
import FindMyWay from 'find-my-way'
import fastJson from 'fast-json-stringify'
import { createAdapter, operationShape } from '../../adapters/index.js'
import type { Adapter, OperationShape } from '../../adapters/contract.js'
import { AgencyDirectory } from '../auth/agencies.js'
import type { GatewayConfig, OperationSpec, Role, ServiceSpec } from '../../core/config-types.js'
import { REPLY_META_SCHEMA } from './reply-meta.js'
import { compileBodyCheck, compileParamCheck, type Check } from './validation.js'
import type { ValidationIssue } from '../../core/errors.js'

export interface CompiledOperation {
  readonly spec: OperationSpec
  readonly service: ServiceSpec
  readonly shape: OperationShape
  readonly adapter: Adapter
  readonly checkParams: (values: Record<string, string>) => ValidationIssue[]
  readonly checkBody: Check | null
  /** Query parameter names this operation accepts (its query params, and `fields` where it applies). */
  readonly queryNames: ReadonlySet<string>
  readonly serialize: (reply: { data: unknown, meta: unknown }) => string
}

/** Built-in routes (audit, notifications, admin) register a handler id; the app maps ids to handlers. */
export interface BuiltinRoute {
  readonly method: 'GET' | 'POST' | 'DELETE'
  /** Path template with `{param}`, below /v1. */
  readonly path: string
  readonly name: string
  /** Audit service/operation recorded for it. */
  readonly service: string
  readonly operation: string
  /** The role an agency needs to call it (checked in the authorize step); finer checks are the handler's. */
  readonly role?: Role
}

export type RouteTarget =
  | { readonly kind: 'operation', readonly op: CompiledOperation, readonly template: string }
  | { readonly kind: 'builtin', readonly route: BuiltinRoute, readonly template: string }

export interface RouteMatch {
  readonly target: RouteTarget
  readonly params: Record<string, string>
}

function toFindMyWayPath (template: string): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9]*)\}/g, ':$1')
}

export class Runtime {
  readonly config: GatewayConfig
  readonly agencies: AgencyDirectory
  readonly adapters: ReadonlyMap<string, Adapter>
  readonly operations: ReadonlyMap<string, CompiledOperation>
  readonly #router = FindMyWay({ ignoreTrailingSlash: false, caseSensitive: true, maxParamLength: 256 })
  #inflight = 0
  #retired = false
  #closed: Promise<void> | null = null

  constructor (
    config: GatewayConfig,
    opts: {
      builtins: readonly BuiltinRoute[]
      previous?: Runtime
      onJwksError?: (err: unknown, agency: string) => void
    }
  ) {
    this.config = config
    this.agencies = new AgencyDirectory(config, opts.previous?.agencies, opts.onJwksError)
    const adapters = new Map<string, Adapter>()
    const operations = new Map<string, CompiledOperation>()
    const deps = { maxResponseBytes: config.gateway.limits.upstreamResponseBytes }
    try {
      for (const service of Object.values(config.services)) {
        const adapter = createAdapter(service, deps)
        adapters.set(service.service, adapter)
        for (const spec of Object.values(service.operations)) {
          // The config checks refuse an operation a coded adapter does not have: a shape is always found.
          const shape = operationShape(service, spec)
          if (shape === undefined) throw new Error(`${service.service} has no operation ${spec.id}`)
          const queryNames = new Set(
            Object.entries(spec.params)
              .filter(([, p]) => p.in === 'query')
              .map(([name]) => name)
          )
          if (shape.fieldsApplyTo === 'response') queryNames.add('fields')
          const op: CompiledOperation = {
            spec,
            service,
            shape,
            adapter,
            checkParams: compileParamCheck(spec.params),
            checkBody: shape.body === undefined ? null : compileBodyCheck(shape.body),
            queryNames,
            serialize: fastJson({
              type: 'object',
              properties: { data: shape.data, meta: REPLY_META_SCHEMA },
            } as Parameters<typeof fastJson>[0]) as (r: { data: unknown; meta: unknown }) => string,
          }
          operations.set(`${service.service}.${spec.id}`, op)
          const target: RouteTarget = { kind: 'operation', op, template: spec.route }
          this.#router.on(spec.method, toFindMyWayPath(spec.route), () => {}, target)
        }
      }
      for (const route of opts.builtins) {
        const template = `/v1${route.path}`
        this.#router.on(route.method, toFindMyWayPath(template), () => {}, {
          kind: 'builtin',
          route,
          template,
        } satisfies RouteTarget)
      }
    } catch (err) {
      for (const a of adapters.values()) void a.close()
      throw err
    }
    this.adapters = adapters
    this.operations = operations
  }

  /** Finds the route for a request path (no query string). */
  match (method: string, path: string): RouteMatch | null {
    const found = this.#router.find(method as 'GET', path)
    if (found === null) return null
    return { target: found.store as RouteTarget, params: { ...found.params } as Record<string, string> }
  }

  /** The methods served at a path (for `405 route.method` and its `Allow` header); empty when none. */
  allowedMethods (path: string): string[] {
    return ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => this.#router.find(m as 'GET', path) !== null)
  }

  acquire (): this {
    this.#inflight++
    return this
  }

  release (): void {
    this.#inflight--
    if (this.#retired && this.#inflight === 0) void this.close()
  }

  /** Called when a newer runtime replaced this one: closes once the last pinned request ends. */
  retire (): void {
    this.#retired = true
    if (this.#inflight === 0) void this.close()
  }

  close (): Promise<void> {
    this.#closed ??= Promise.all([...this.adapters.values()].map((a) => a.close())).then(() => {})
    return this.#closed
  }
}
