/**
 * `npm run bench`: the evidence for CONTRACT-level performance claims, in one run on this machine.
 *
 *   A. signed reuse lookups: the gateway in production mode (Redis + PostgreSQL, log on) vs two ceilings
 *      (fastify + the same verification, with jose and with node:crypto, + a fixed reply), alternating,
 *      median of rounds; then two gateway processes sharing the port (bench/reuse.ts);
 *   P. the per-request CPU budget, from CPU profiles of one more gateway round (bench/budget.ts);
 *   B. the registry path: distinct subjects through the gateway vs the simulator directly, at a fixed rate,
 *      quiet and right after a burst while the log catches up (bench/registry.ts);
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
import type { LoadPlan } from './load.js'
import { cpuBetween, freePort, runLoad, startProcess, stopProcess } from './processes.js'
import { countRows, seedCounts, waitForRows } from './seed-counts.js'
import { logThroughput } from './log-throughput.js'
import { cpuBudget } from './budget.js'
import { countsLatency } from './counts.js'
import { registrySection } from './registry.js'
import { dataDir, reuseSection } from './reuse.js'
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
/** BENCH_ONLY=A,C runs some sections only (A reuse, P CPU budget, B registry path, C log, D counts). */
const ONLY = new Set((env.BENCH_ONLY ?? 'A,P,B,C,D').split(',').map((x) => x.trim().toUpperCase()))

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
    const gwUrl = `http://127.0.0.1:${gwPort}`
    let gateways = 0
    // Every gateway process shares the port (NDX_REUSE_PORT) and has a data directory of its own.
    const startGateway = async (nodeArgs: string[] = []): Promise<ChildProcess> => {
      const n = ++gateways
      const child = await startProcess(
        'dist/gateway/main/gateway.js',
        {
          ...simEnv,
          PORT: String(gwPort),
          CONFIG_DIR: configDir,
          REDIS_URL,
          DATABASE_URL: dbUrl(database),
          DATA_DIR: dataDir(WORK, n),
          LOG_LEVEL: 'warn',
          NDX_REUSE_PORT: 'true',
          NDX_CHECKPOINT_KEY_FILE: projectPath('demo', 'keys', 'gateway-checkpoint.private.jwk.json'),
        },
        `${gwUrl}/health/ready`,
        nodeArgs
      )
      children.push(child)
      return child
    }
    let gateway = await startGateway(GATEWAY_NODE_ARGS)

    const key = JSON.parse(
      await readFile(projectPath('demo', 'keys', 'VN.LOC.DNG.private.jwk.json'), 'utf8')
    ) as PrivateKeyFile
    const { d: _d, ...publicJwk } = key

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
    for (const target of hot) await client.call('GET', target, { purpose: 'public-service' })
    let sent = hot.length
    const signer = { agencyId: 'VN.LOC.DNG', key, purpose: 'public-service' }
    const operator = new NdxClient({
      baseUrl: gwUrl,
      signer: await signerFromFile('VN.NDXP.OPS', projectPath('demo', 'keys', 'VN.NDXP.OPS.private.jwk.json')),
    })
    const maxRequests = Math.ceil(((DURATION_MS + WARMUP_MS) / 1000) * 12_000)
    const plan = (url: string): LoadPlan => ({
      url,
      targets: hot,
      signer,
      connections: CONNECTIONS,
      durationMs: DURATION_MS,
      warmupMs: WARMUP_MS,
      maxRequests,
    })
    const labels = new Map<number, string>([
      [gateway.pid as number, 'gateway (+ log worker)'],
      [sims.pid as number, 'simulators'],
    ])

    if (ONLY.has('A')) {
      const reuse = await reuseSection({
        rounds: ROUNDS,
        plan,
        gateway: { url: gwUrl, process: gateway },
        startAnother: () => startGateway(),
        publicJwk,
        labels,
        log,
        children,
        workDir: WORK,
      })
      sent += reuse.sent
      const logged = await drainedCount(dbUrl(database), sent)
      report.sections.reuse = { ...reuse, logged: { expected: sent, found: logged.count, drainMs: logged.ms } }
    }

    if (ONLY.has('P')) {
      // The CPU budget: one more gateway round, profiled (main thread and log worker), apart from the figures.
      await stopProcess(gateway)
      const profDir = join(WORK, 'prof')
      gateway = await startGateway([`--cpu-prof-dir=${profDir}`, '--cpu-prof'])
      // At a fixed rate the machine has room: on a saturated one, a profiler charges the time a thread
      // waited for a core to whatever it resumes in.
      const rate = Number(env.BENCH_PROFILE_RATE ?? 1000)
      log(`P: a profiled gateway round at ${rate}/s, for the CPU budget`)
      const run = await runLoad({ ...plan(gwUrl), rate, connections: 64 }, [gateway.pid as number])
      sent += run.result.sent
      const cpu = run.snapshots === null
        ? []
        : cpuBetween(...run.snapshots, run.result.seconds, new Map([[gateway.pid as number, 'gateway']]))
      await stopProcess(gateway)
      report.sections.budget = await cpuBudget(profDir, run.result, cpu)
      gateway = await startGateway()
    }

    if (ONLY.has('B')) {
      report.sections.registry = await registrySection({
        rounds: ROUNDS,
        rate: Number(env.BENCH_RATE ?? 500),
        durationMs: DURATION_MS,
        warmupMs: WARMUP_MS,
        ids: ids.slice(hot.length),
        simulatorUrl: simEnv.POPULATION_URL,
        gatewayUrl: gwUrl,
        signer,
        burst: { ...plan(gwUrl), durationMs: 5000, warmupMs: 0 },
        purge: async () => {
          const res = await operator.call('POST', '/v1/admin/purge', { body: { service: 'population' } })
          if (res.status !== 202) throw new Error(`purge answered ${res.status}`)
        },
        log,
      })
    }

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
    report.sections.counts = await countsLatency(simEnv, configDir, dbUrl(countsDb), rows, WORK)
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

main().catch((err: unknown) => {
  process.stderr.write(`[bench] failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
