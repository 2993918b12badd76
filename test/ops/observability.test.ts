/**
 * Observability: registries get the transaction id and the caller's W3C trace; Node's default metrics are
 * unprefixed so stock dashboards work; every metric the shipped dashboard and alert rules query exists.
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import type { IncomingHttpHeaders } from 'node:http'
import { parse } from 'yaml'
import { childTraceparent, parseTraceparent } from '../../adapters/call-context.js'
import { Metrics } from '../../gateway/ops/metrics.js'
import { projectPath } from '../../core/paths.js'
import { buildTestGateway, copyConfig, demoConfig, signedInject } from '../helpers/gateway.js'
import { addLandRegistry, startLandRegistry, PARCEL } from '../helpers/land-registry.js'

const TRACE = '0af7651916cd43dd8448eb211c80319c'

t.test(
  "a registry receives the transaction id and the caller's trace, continued with a span of its own",
  async (t) => {
    const land = await startLandRegistry()
    t.teardown(() => land.close())
    const seen: IncomingHttpHeaders[] = []
    land.server.on('request', (req) => {
      seen.push(req.headers)
    })
    const dir = await copyConfig(t)
    await addLandRegistry(dir)
    const { app } = await buildTestGateway(t, { config: await demoConfig(t, { LAND_URL: land.url }, dir) })
    const target = `/v1/land-registry/parcels/${PARCEL.maThua}`

    const traced = await signedInject(app, 'VN.LOC.DNG', 'GET', target, {
      purpose: 'public-service',
      headers: { traceparent: `00-${TRACE}-b7ad6b7169203331-01` },
    })
    t.equal(traced.statusCode, 200)
    const first = seen.at(-1) as IncomingHttpHeaders
    t.equal(first['x-transaction-id'], traced.headers['x-transaction-id'], 'the registry gets the transaction id')
    t.equal(first['x-request-id'], traced.headers['x-transaction-id'])
    t.match(first.traceparent, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`), 'the same trace')
    t.not(first.traceparent, `00-${TRACE}-b7ad6b7169203331-01`, "with the gateway's call as the parent")

    const untraced = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/land-registry/parcel-search/0101000001', {
      purpose: 'public-service',
      headers: { traceparent: 'not-a-trace' },
    })
    t.equal(untraced.statusCode, 200)
    const second = seen.at(-1) as IncomingHttpHeaders
    t.equal(second['x-transaction-id'], untraced.headers['x-transaction-id'])
    t.ok(parseTraceparent(second.traceparent) !== null, 'a malformed traceparent starts a valid new trace')
    t.notMatch(second.traceparent, TRACE)
  }
)

t.test('traceparent parsing follows W3C Trace Context', async (t) => {
  t.same(parseTraceparent(`00-${TRACE}-b7ad6b7169203331-00`), { traceId: TRACE, flags: '00' })
  t.equal(parseTraceparent(`00-${'0'.repeat(32)}-b7ad6b7169203331-01`), null, 'all-zero trace id')
  t.equal(parseTraceparent(`00-${TRACE}-${'0'.repeat(16)}-01`), null, 'all-zero parent id')
  t.equal(parseTraceparent(`00-${TRACE.toUpperCase()}-b7ad6b7169203331-01`), null, 'upper-case hex')
  t.equal(parseTraceparent([`00-${TRACE}-b7ad6b7169203331-01`]), null, 'a repeated header')
  t.match(
    childTraceparent(`00-${TRACE}-b7ad6b7169203331-00`),
    new RegExp(`^00-${TRACE}-[0-9a-f]{16}-00$`),
    'flags kept'
  )
})

/** Metric family names in a scrape (`# TYPE <name>`). */
async function families (): Promise<Set<string>> {
  const metrics = new Metrics({
    redisUp: () => true,
    configDigest: () => 'd',
    log: async () => ({ queueDepth: 0, lagMs: 0, spooled: 0, backlog: 0 }),
  })
  const text = await metrics.registry.metrics()
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string))
}

t.test('default process metrics are unprefixed', async (t) => {
  const names = await families()
  for (const n of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_p99_seconds',
    'nodejs_heap_size_used_bytes',
  ]) { t.ok(names.has(n), n) }
  t.notOk(
    [...names].some((n) => n.startsWith('ndx_process_') || n.startsWith('ndx_nodejs_')),
    'no ndx_-prefixed copies'
  )
})

/** Metric names a PromQL expression reads (ndx_*, process_*, nodejs_*), histogram suffixes removed. */
function metricsIn (expr: string): string[] {
  return [...expr.matchAll(/\b((?:ndx|process|nodejs)_[a-z0-9_]+)/g)].map((m) => (m[1] as string).replace(/_(bucket|sum|count)$/, ''))
}

// Counted by the verification budget (CONTRACT §5 v1.1), which lives beside the verify operation.
const ADDED_WITH_VERIFY_BUDGET = 'ndx_verify_budget_exhausted_total'

t.test('every metric the Grafana dashboard and the alert rules query exists', async (t) => {
  const names = await families()
  const known = (n: string): boolean => names.has(n) || n === ADDED_WITH_VERIFY_BUDGET
  const dashboard = JSON.parse(await readFile(projectPath('deploy', 'grafana', 'ndx-gateway.json'), 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>
  }
  t.ok(dashboard.panels.length >= 10, `${dashboard.panels.length} panels`)
  for (const p of dashboard.panels) {
    for (const target of p.targets) {
      for (const n of metricsIn(target.expr)) t.ok(known(n), `dashboard "${p.title}": ${n}`)
    }
  }
  const rules = parse(await readFile(projectPath('deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert: string; expr: string; labels: { severity: string } }> }>
  }
  const alerts = rules.groups.flatMap((g) => g.rules)
  for (const a of alerts) {
    for (const n of metricsIn(a.expr)) t.ok(known(n), `alert ${a.alert}: ${n}`)
    t.match(a.labels.severity, /^(warning|critical)$/)
  }
  const covered = alerts.map((a) => a.expr).join('\n')
  for (const m of [
    'ndx_txlog_lag_seconds',
    'ndx_txlog_spooled_records',
    'ndx_redis_up',
    'ndx_registry_calls_total',
    ADDED_WITH_VERIFY_BUDGET,
  ]) {
    t.match(covered, m, `an alert watches ${m}`)
  }
})
