/**
 * Prometheus metrics (prom-client), one registry per gateway app. Counters are fed by the request path
 * (records, registry calls, reuse reads); gauges about Redis and the log are read at scrape time.
 */
/* eslint-disable no-new -- a gauge registers itself when it is made, and is read at scrape time only */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { TransactionRecord } from '../txlog/record.js'
import { tamperSuspected } from '../txlog/chain-verify.js'

export type ReuseResult = 'hit' | 'miss' | 'stale' | 'bypass'

export interface ScrapeSources {
  redisUp?: () => boolean | null
  log?: () => Promise<{
    queueDepth: number | null
    lagMs: number | null
    spooled: number
    backlog: number
    poisoned?: number | null
  }>
  configDigest?: () => string
}

export class Metrics {
  readonly registry = new Registry()
  readonly #requests: Counter<'service' | 'operation' | 'outcome' | 'code'>
  readonly #duration: Histogram<'service' | 'operation'>
  readonly #upstreamCalls: Counter<'service' | 'result'>
  readonly #upstreamDuration: Histogram<'service'>
  readonly #reuse: Counter<'result'>
  readonly #replays: Counter
  readonly #quota: Counter<'client'>
  readonly #reloads: Counter<'result'>
  readonly #unauthenticated: Counter
  readonly #verifyBudget: Counter

  constructor (sources: ScrapeSources = {}) {
    const registers = [this.registry]
    // Unprefixed (process_cpu_seconds_total, nodejs_heap_size_used_bytes…): what stock Node.js dashboards query.
    collectDefaultMetrics({ register: this.registry })
    this.#requests = new Counter({
      name: 'ndx_requests_total',
      help: '/v1 requests by service, operation, outcome and problem code',
      labelNames: ['service', 'operation', 'outcome', 'code'],
      registers,
    })
    this.#duration = new Histogram({
      name: 'ndx_request_duration_seconds',
      help: 'Time to serve /v1 requests, record included',
      labelNames: ['service', 'operation'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    })
    this.#upstreamCalls = new Counter({
      name: 'ndx_registry_calls_total',
      help: 'Calls to registries by result (ok, not_found or the problem code)',
      labelNames: ['service', 'result'],
      registers,
    })
    this.#upstreamDuration = new Histogram({
      name: 'ndx_registry_duration_seconds',
      help: 'Registry call latency',
      labelNames: ['service'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    })
    this.#reuse = new Counter({
      name: 'ndx_reuse_total',
      help: 'Record reads: hit (reused), miss (registry called), stale (kept record served while the registry is ' +
        'down), bypass (operation never reuses)',
      labelNames: ['result'],
      registers,
    })
    this.#replays = new Counter({
      name: 'ndx_replay_refusals_total',
      help: 'Tokens refused as replays (auth.replayed)',
      registers,
    })
    this.#quota = new Counter({
      name: 'ndx_quota_refusals_total',
      help: 'Requests refused by quota',
      labelNames: ['client'],
      registers,
    })
    this.#reloads = new Counter({
      name: 'ndx_config_reloads_total',
      help: 'Configuration reloads by result',
      labelNames: ['result'],
      registers,
    })
    this.#unauthenticated = new Counter({
      name: 'ndx_unauthenticated_refusals_total',
      help: 'Requests refused 429 because their source address sent too many unverifiable requests',
      registers,
    })
    this.#verifyBudget = new Counter({
      name: 'ndx_verify_budget_exhausted_total',
      help: 'Verifications refused 429: the agency used up its failed-verification budget for the subject today',
      registers,
    })
    this.#unauthenticated.inc(0)
    this.#verifyBudget.inc(0)
    for (const r of ['hit', 'miss', 'stale', 'bypass']) this.#reuse.inc({ result: r }, 0)
    this.#replays.inc(0)

    new Gauge({
      name: 'ndx_redis_up',
      help: '1 when Redis answers, 0 when not; absent standalone',
      registers,
      collect () {
        const up = sources.redisUp?.()
        if (up !== null && up !== undefined) this.set(up ? 1 : 0)
      },
    })
    new Gauge({
      name: 'ndx_config_info',
      help: 'The configuration serving (digest label)',
      labelNames: ['digest'],
      registers,
      collect () {
        this.reset()
        if (sources.configDigest !== undefined) this.set({ digest: sources.configDigest() }, 1)
      },
    })
    const log = sources.log
    if (log !== undefined) {
      let last: Awaited<ReturnType<typeof log>> | null = null
      const refresh = async (): Promise<void> => { last = await log() }
      new Gauge({
        name: 'ndx_txlog_queue_depth',
        help: 'Batches of records waiting in the log queue',
        registers,
        async collect () {
          await refresh()
          if (last?.queueDepth != null) this.set(last.queueDepth)
        },
      })
      new Gauge({
        name: 'ndx_txlog_lag_seconds',
        help: 'Age of the oldest batch not yet written to the database',
        registers,
        collect () {
          if (last?.lagMs != null) this.set(last.lagMs / 1000)
        },
      })
      new Gauge({
        name: 'ndx_txlog_spooled_records',
        help: 'Records spooled to local disk while the queue is unavailable',
        registers,
        collect () {
          this.set(last?.spooled ?? 0)
        },
      })
      new Gauge({
        name: 'ndx_txlog_pending_records',
        help: 'Records waiting for their batch to be written',
        registers,
        collect () {
          this.set(last?.backlog ?? 0)
        },
      })
      // A counter in meaning (never decreases), read from the database so every worker's poison is counted.
      // Its own read: the gauges are collected concurrently, so `last` may still be the previous scrape's.
      new Gauge({
        name: 'ndx_txlog_tamper_suspected',
        help: 'Times this process refused to sign a checkpoint or retention trace over a chain that does not verify ' +
        '(alert on any)',
        registers,
        collect () {
          this.set(tamperSuspected())
        },
      })
      new Gauge({
        name: 'ndx_txlog_poisoned_total',
        help: 'Records the database refused, kept aside in ndx_tx_poisoned (alert on any)',
        registers,
        async collect () {
          const n = (await log()).poisoned
          if (n != null) this.set(n)
        },
      })
    }
  }

  // Labelled children are looked up once per label set: prom-client would hash the labels on every call.
  readonly #children = new Map<object, Map<string, unknown>>()

  #child<T> (metric: Counter<string> | Histogram<string>, values: string[]): T {
    let byLabels = this.#children.get(metric)
    if (byLabels === undefined) this.#children.set(metric, byLabels = new Map())
    const key = values.join('\0')
    let child = byLabels.get(key)
    if (child === undefined) byLabels.set(key, child = metric.labels(...values))
    return child as T
  }

  #counter (metric: Counter<string>, ...values: string[]): { inc: (v?: number) => void } {
    return this.#child(metric, values)
  }

  #histogram (metric: Histogram<string>, ...values: string[]): { observe: (v: number) => void } {
    return this.#child(metric, values)
  }

  record (r: TransactionRecord): void {
    const service = r.service ?? 'none'
    const operation = r.operation ?? 'none'
    this.#counter(this.#requests, service, operation, r.outcome, r.code ?? 'none').inc()
    this.#histogram(this.#duration, service, operation).observe(r.durationMs / 1000)
    if (r.code === 'auth.replayed') this.#replays.inc()
    if (r.code === 'quota.exceeded' && r.client !== null) this.#counter(this.#quota, r.client).inc()
  }

  upstream (service: string, result: string, seconds: number): void {
    this.#counter(this.#upstreamCalls, service, result).inc()
    this.#histogram(this.#upstreamDuration, service).observe(seconds)
  }

  reuse (result: ReuseResult): void {
    this.#counter(this.#reuse, result).inc()
  }

  unauthenticatedRefused (): void {
    this.#unauthenticated.inc()
  }

  verifyBudgetExhausted (): void {
    this.#verifyBudget.inc()
  }

  reload (ok: boolean): void {
    this.#reloads.inc({ result: ok ? 'applied' : 'refused' })
  }
}
