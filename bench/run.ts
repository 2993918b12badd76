/**
 * `npm run bench`: the evidence for CONTRACT-level performance claims, in one run on this machine.
 *
 *   A. signed reuse lookups: the gateway in production mode (Redis + PostgreSQL, log on) vs a ceiling
 *      server (fastify + the same jose verification + a fixed reply), alternating, median of rounds;
 *   B. the registry path: distinct subjects through the gateway vs the simulator directly, at a fixed rate;
 *   C. the log: sustained records per second through queue → worker → PostgreSQL, with zero loss;
 *   D. `counts` over ≥ 10 M records (a seeded database, kept between runs).
 *
 * Load comes from separate processes (bench/load.ts) with one fresh token per request, signed beforehand.
 * Results are printed and written to bench/RESULTS.md, followed by the analysis in bench/NOTES.md. Needs
 * Redis and PostgreSQL (REDIS_URL, BENCH_PG_URL — an admin connection, default
 * postgres://postgres@127.0.0.1:5432/postgres).
 */
import { cp, mkdir, readFile, rm, writeFile, appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'
import type { ChildProcess } from 'node:child_process'
import { projectPath } from '../core/paths.js'
import { PgSql } from '../gateway/txlog/sql.js'
import { migrate } from '../gateway/txlog/schema.js'
import { NdxClient, signerFromFile, type PrivateKeyFile } from '../sdk/index.js'
import type { LoadPlan, LoadResult } from './load.js'
import { cpuBetween, freePort, runLoad, startProcess, stopProcess, type CpuUse } from './processes.js'
import { countRows, seedCounts, waitForRows } from './seed-counts.js'
import { logThroughput } from './log-throughput.js'
import { machine, writeResults, type BenchReport } from './report.js'

const env = process.env
const REDIS_URL = env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const PG_ADMIN = env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const QUICK = env.BENCH_QUICK === '1'
const ROUNDS = Number(env.BENCH_ROUNDS ?? (QUICK ? 1 : 3))
const DURATION_MS = Number(env.BENCH_DURATION_MS ?? (QUICK ? 4000 : 10_000))
const WARMUP_MS = 2000
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 128)
const COUNTS_ROWS = Number(env.BENCH_COUNTS_ROWS ?? 10_200_000)
const WORK = projectPath('bench', '.work')
/** Node flags for the gateway process, e.g. BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=bench/.work/prof". */
const GATEWAY_NODE_ARGS = (env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)
/** BENCH_ONLY=A,C runs some sections only (A reuse, B registry path, C log, D counts). */
const ONLY = new Set((env.BENCH_ONLY ?? 'A,B,C,D').split(',').map((x) => x.trim().toUpperCase()))

const log = (msg: string): void => { process.stdout.write(`[bench] ${msg}\n`) }

function dbUrl (name: string): string {
  const u = new URL(PG_ADMIN)
  u.pathname = `/${name}`
  return u.toString()
}

async function admin<T> (fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN })
  await c.connect()
  try { return await fn(c) } finally { await c.end() }
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0
    ? Number.NaN
    : ((s[Math.floor((s.length - 1) / 2)] as number) + (s[Math.ceil((s.length - 1) / 2)] as number)) / 2
}

function medianResult (results: LoadResult[]): LoadResult {
  return [...results].sort((a, b) => a.rps - b.rps)[Math.floor(results.length / 2)] as LoadResult
}

async function main (): Promise<void> {
  const started = Date.now()
  const runId = `${Date.now()}`
  await rm(WORK, { recursive: true, force: true })
  await mkdir(WORK, { recursive: true })

  // A configuration of our own: demo agencies, Da Nang's quota lifted, Redis keys under a run prefix.
  const configDir = join(WORK, 'config')
  await cp(projectPath('config'), configDir, { recursive: true })
  const dng = join(configDir, 'agencies', 'VN.LOC.DNG.yaml')
  await writeFile(dng, (await readFile(dng, 'utf8')).replace(/perMinute: \d+/, 'perMinute: 10000000'))
  const prefix = `ndx-bench:${runId}:`
  await appendFile(join(configDir, 'gateway.yaml'), `redis:\n  keyPrefix: "${prefix}"\n`)
  const database = `ndx_bench_${runId}`
  await admin((c) => c.query(`CREATE DATABASE ${database}`))

  const children: ChildProcess[] = []
  const report: BenchReport = {
    machine: await machine(REDIS_URL, PG_ADMIN),
    command: 'npm run bench',
    date: new Date().toISOString(),
    settings: { rounds: ROUNDS, durationMs: DURATION_MS, warmupMs: WARMUP_MS, connections: CONNECTIONS },
    sections: {},
  }
  try {
    const simPorts = [await freePort(), await freePort(), await freePort()]
    const sims = await startProcess(
      'dist/simulators/main.js',
      {
        SIM_POPULATION_PORT: String(simPorts[0]),
        SIM_CIVIL_STATUS_PORT: String(simPorts[1]),
        SIM_BUSINESS_REGISTRY_PORT: String(simPorts[2]),
      },
      /simulators listening/
    )
    children.push(sims)
    const simEnv = {
      POPULATION_URL: `http://127.0.0.1:${simPorts[0]}`,
      CIVIL_STATUS_URL: `http://127.0.0.1:${simPorts[1]}`,
      BUSINESS_REGISTRY_URL: `http://127.0.0.1:${simPorts[2]}`,
    }

    const gwPort = await freePort()
    const gateway = await startProcess(
      'dist/gateway/main/gateway.js',
      {
        ...simEnv,
        PORT: String(gwPort),
        CONFIG_DIR: configDir,
        REDIS_URL,
        DATABASE_URL: dbUrl(database),
        DATA_DIR: join(WORK, 'data'),
        LOG_LEVEL: 'warn',
        NDX_CHECKPOINT_KEY_FILE: projectPath('demo', 'keys', 'gateway-checkpoint.private.jwk.json'),
      },
      `http://127.0.0.1:${gwPort}/health/ready`,
      GATEWAY_NODE_ARGS
    )
    children.push(gateway)
    const gwUrl = `http://127.0.0.1:${gwPort}`

    const key = JSON.parse(
      await readFile(projectPath('demo', 'keys', 'VN.LOC.DNG.private.jwk.json'), 'utf8')
    ) as PrivateKeyFile
    const { d: _d, ...publicJwk } = key
    const ceilPort = await freePort()
    const ceiling = await startProcess(
      'dist/bench/ceiling.js',
      { PORT: String(ceilPort), CEILING_JWK: JSON.stringify(publicJwk) },
      /ceiling listening/
    )
    children.push(ceiling)
    const ceilUrl = `http://127.0.0.1:${ceilPort}`

    const { citizens } = await import('../simulators/data.js').then((m) => m.registryData())
    const ids = [...citizens.keys()]
    const hot = ids
      .slice(0, 200)
      .map((id) => `/v1/population/citizens/${id}?fields=fullName,dateOfBirth,permanentAddress`)
    const client = new NdxClient({
      baseUrl: gwUrl,
      signer: await signerFromFile('VN.LOC.DNG', projectPath('demo', 'keys', 'VN.LOC.DNG.private.jwk.json')),
    })
    // Kept by these calls: every later lookup is a reuse.
    if (ONLY.has('A')) for (const target of hot) await client.call('GET', target, { purpose: 'public-service' })
    const signer = { agencyId: 'VN.LOC.DNG', key, purpose: 'public-service' }
    const maxRequests = Math.ceil(((DURATION_MS + WARMUP_MS) / 1000) * 14_000)
    const plan = (url: string): LoadPlan => ({
      url,
      targets: hot,
      signer,
      connections: CONNECTIONS,
      durationMs: DURATION_MS,
      warmupMs: WARMUP_MS,
      maxRequests,
    })
    const gwRuns: LoadResult[] = []
    const ceilRuns: LoadResult[] = []
    let gwCpu: CpuUse[] = []
    let ceilCpu: CpuUse[] = []
    let sentToGateway = 0
    const labels = new Map<number, string>([
      [gateway.pid as number, 'gateway (+ log worker)'],
      [ceiling.pid as number, 'ceiling'],
      [sims.pid as number, 'simulators'],
    ])
    for (let r = 0; r < (ONLY.has('A') ? ROUNDS : 0); r++) {
      log(`A: round ${r + 1}/${ROUNDS}: ceiling`)
      const c = await runLoad(plan(ceilUrl), [ceiling.pid as number])
      ceilRuns.push(c.result)
      if (c.snapshots !== null) ceilCpu = cpuBetween(c.snapshots[0], c.snapshots[1], c.result.seconds, labels)
      log(`A: round ${r + 1}/${ROUNDS}: gateway`)
      const g = await runLoad(plan(gwUrl), [gateway.pid as number])
      gwRuns.push(g.result)
      sentToGateway += g.result.sent
      if (g.snapshots !== null) gwCpu = cpuBetween(g.snapshots[0], g.snapshots[1], g.result.seconds, labels)
      log(`A: ceiling ${c.result.rps.toFixed(0)}/s, gateway ${g.result.rps.toFixed(0)}/s`)
    }
    if (ONLY.has('A')) {
      const logged = await drainedCount(dbUrl(database), hot.length + sentToGateway)
      report.sections.reuse = {
        gateway: medianResult(gwRuns),
        ceiling: medianResult(ceilRuns),
        gwRuns,
        ceilRuns,
        ratio: median(gwRuns.map((x) => x.rps)) / median(ceilRuns.map((x) => x.rps)),
        gwCpu,
        ceilCpu,
        logged: { expected: hot.length + sentToGateway, found: logged.count, drainMs: logged.ms },
      }
    }

    // ---- B. registry path at a fixed rate, distinct subjects
    const rate = Number(env.BENCH_RATE ?? 500)
    const perRun = Math.ceil((rate * (DURATION_MS + WARMUP_MS)) / 1000) + 50
    const direct: LoadResult[] = []
    const via: LoadResult[] = []
    for (let r = 0; r < (ONLY.has('B') ? ROUNDS : 0); r++) {
      const slice = ids.slice(1000 + r * perRun, 1000 + (r + 1) * perRun)
      log(`B: round ${r + 1}/${ROUNDS}: simulator directly, then the gateway, ${rate}/s`)
      direct.push(
        (
          await runLoad({
            url: simEnv.POPULATION_URL,
            targets: slice.map((id) => `/api/v1/cong-dan/${id}`),
            headers: { 'x-api-key': 'demo-population-key' },
            connections: 64,
            durationMs: DURATION_MS,
            warmupMs: WARMUP_MS,
            rate,
            maxRequests: perRun,
          })
        ).result
      )
      via.push(
        (
          await runLoad({
            url: gwUrl,
            targets: slice.map((id) => `/v1/population/citizens/${id}`),
            signer,
            connections: 64,
            durationMs: DURATION_MS,
            warmupMs: WARMUP_MS,
            rate,
            maxRequests: perRun,
          })
        ).result
      )
    }
    if (ONLY.has('B')) {
      report.sections.registry = {
        rate,
        direct: medianResult(direct),
        gateway: medianResult(via),
        addedP50: median(via.map((x) => x.p50)) - median(direct.map((x) => x.p50)),
        addedP99: median(via.map((x) => x.p99)) - median(direct.map((x) => x.p99)),
      }
    }

    await stopProcess(ceiling)
    await stopProcess(gateway)

    // ---- C. the log alone
    if (ONLY.has('C')) {
      log('C: transaction log throughput (queue -> worker -> PostgreSQL)')
      const logDb = `ndx_bench_log_${runId}`
      await admin((c) => c.query(`CREATE DATABASE ${logDb}`))
      try {
        report.sections.log = await logThroughput({
          redisUrl: REDIS_URL,
          databaseUrl: dbUrl(logDb),
          prefix: `${prefix}logbench:`,
          seconds: DURATION_MS / 1000,
          dataDir: join(WORK, 'data-log'),
        })
      } finally {
        await admin((c) => c.query(`DROP DATABASE IF EXISTS ${logDb} WITH (FORCE)`))
      }
    }
    if (!ONLY.has('D')) return finish(report, started)

    // ---- D. counts over a large log
    const countsDb = env.BENCH_COUNTS_DB ?? 'ndx_bench_counts'
    const exists = await admin(
      async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [countsDb])).rowCount === 1
    )
    if (!exists) await admin((c) => c.query(`CREATE DATABASE ${countsDb}`))
    const csql = new PgSql(dbUrl(countsDb))
    await migrate(csql)
    let rows = await countRows(csql)
    const days = 30
    if (rows < COUNTS_ROWS) {
      log(`D: seeding ${COUNTS_ROWS} records into ${countsDb} (once; kept for later runs)`)
      await csql.exec('TRUNCATE ndx_tx, ndx_tx_hourly')
      const t0 = Date.now()
      await seedCounts(csql, days, Math.ceil(COUNTS_ROWS / days), (d) =>
        log(`D: day ${d}/${days} seeded (${((Date.now() - t0) / 1000).toFixed(0)} s)`)
      )
      rows = await countRows(csql)
    }
    await csql.close()
    report.sections.counts = await countsLatency(simEnv, configDir, dbUrl(countsDb), rows)
  } finally {
    for (const child of children.reverse()) await stopProcess(child)
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(() => {})
  }
  await finish(report, started)
}

async function finish (report: BenchReport, started: number): Promise<void> {
  report.elapsedSeconds = (Date.now() - started) / 1000
  const path = await writeResults(report)
  log(`results written to ${path}`)
}

/** Waits for the log to hold `expected` records (the worker drains the queue), up to 60 s. */
async function drainedCount (url: string, expected: number): Promise<{ count: number, ms: number }> {
  const sql = new PgSql(url)
  const t0 = Date.now()
  try {
    return { count: await waitForRows(sql, expected, 60_000), ms: Date.now() - t0 }
  } finally {
    await sql.close()
  }
}

async function countsLatency (
  simEnv: Record<string, string>,
  configDir: string,
  databaseUrl: string,
  rows: number
): Promise<NonNullable<BenchReport['sections']['counts']>> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const gw = await startProcess(
    'dist/gateway/main/gateway.js',
    {
      ...simEnv,
      PORT: String(port),
      CONFIG_DIR: configDir,
      DATABASE_URL: databaseUrl,
      REDIS_URL: '',
      DATA_DIR: join(WORK, 'data-counts'),
      LOG_LEVEL: 'warn',
      NDX_CHECKPOINT_KEY_FILE: projectPath('demo', 'keys', 'gateway-checkpoint.private.jwk.json'),
    },
    `${url}/health/live`
  )
  try {
    const auditor = new NdxClient({
      baseUrl: url,
      signer: await signerFromFile('VN.TTCP', projectPath('demo', 'keys', 'VN.TTCP.private.jwk.json')),
    })
    const today = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z')
    const iso = (d: Date): string => d.toISOString()
    const day = 86_400_000
    const queries: Array<[string, string]> = [
      [
        '30 days by client and outcome',
        `from=${iso(new Date(today.getTime() - 30 * day))}&to=${iso(today)}&groupBy=client,outcome`,
      ],
      ['30 days by day', `from=${iso(new Date(today.getTime() - 30 * day))}&to=${iso(today)}&groupBy=day`],
      [
        '7 days, one service, by operation and source',
        `from=${iso(new Date(today.getTime() - 7 * day))}&to=${iso(today)}&service=population&groupBy=operation,source`,
      ],
      [
        'yesterday by hour and outcome',
        `from=${iso(new Date(today.getTime() - day))}&to=${iso(today)}&groupBy=hour,outcome`,
      ],
      [
        '30 days, unaligned edges (rollup + raw partial hours)',
        `from=${iso(new Date(today.getTime() - 30 * day + 1_234_567))}` +
          `&to=${iso(new Date(today.getTime() - 7_654_321))}&groupBy=client`,
      ],
    ]
    const out: Array<{ name: string; p50: number; max: number; total: number }> = []
    for (const [name, q] of queries) {
      const times: number[] = []
      let total = 0
      for (let i = 0; i < 12; i++) {
        const t0 = performance.now()
        const res = await auditor.call<{ total: number }>('GET', `/v1/audit/counts?${q}`)
        const ms = performance.now() - t0
        if (res.status !== 200) throw new Error(`counts answered ${res.status}: ${JSON.stringify(res.body)}`)
        total = res.body.total
        if (i >= 2) times.push(ms) // the first two warm the cache
      }
      out.push({ name, p50: median(times), max: Math.max(...times), total })
    }
    return { rows, queries: out }
  } finally {
    await stopProcess(gw)
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench] failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
