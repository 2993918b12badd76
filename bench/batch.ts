/**
 * `npm run bench:batch`: batch lookups (CONTRACT §10) against a plain loop of single signed calls, in one
 * run, through the bundled population simulator.
 *
 *   1. a loop of BENCH_BATCH_SINGLE single `verify` calls, BENCH_BATCH_CONCURRENCY at a time, each freshly
 *      signed (what an agency does without batches);
 *   2. one batch of BENCH_BATCH_ITEMS `verify` items (default 100,000), submitted and waited for.
 *
 * The gateway runs in production shape (Redis + PostgreSQL, workers in process, built JavaScript). Reuse is
 * off for `population.verify` in this run's config (`cache.ttlSeconds: 0`), so every item and every call
 * reaches the registry: both sides measure the registry path, not the reuse store. BENCH_BATCH_RPS sets
 * population's `upstream.maxRequestsPerSecond` (default: not paced). The simulator runs in this process so
 * its request counter gives the registry's observed rate. Figures go to bench/RESULTS.md (own section).
 */
import { cp, mkdir, readFile, rm, writeFile, appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { projectPath } from '../core/paths.js'
import { NdxClient, signerFromFile } from '../sdk/index.js'
import { startSimulators } from '../simulators/index.js'
import { registryData } from '../simulators/data.js'
import { freePort, startProcess, stopProcess } from './processes.js'

const env = process.env
const ITEMS = Number(env.BENCH_BATCH_ITEMS ?? 100_000)
const SINGLE = Number(env.BENCH_BATCH_SINGLE ?? 20_000)
const CONCURRENCY = Number(env.BENCH_BATCH_CONCURRENCY ?? 32)
const RPS = env.BENCH_BATCH_RPS === undefined || env.BENCH_BATCH_RPS === '' ? null : Number(env.BENCH_BATCH_RPS)
const REDIS_URL = env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const PG_ADMIN = env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const WORK = projectPath('bench', '.work', 'batch')
const log = (msg: string): void => { process.stdout.write(`[bench:batch] ${msg}\n`) }

interface Rate { seconds: number, itemsPerSecond: number, registryMean: number, registryPeak: number }

/** Samples the registry's request counter every second while `run` goes. */
async function measure (requests: () => number, items: number, run: () => Promise<void>): Promise<Rate> {
  const perSecond: number[] = []
  let last = requests()
  const first = last
  const timer = setInterval(() => { const now = requests(); perSecond.push(now - last); last = now }, 1000)
  const started = performance.now()
  try { await run() } finally { clearInterval(timer) }
  const seconds = (performance.now() - started) / 1000
  return {
    seconds,
    itemsPerSecond: items / seconds,
    registryMean: (requests() - first) / seconds,
    registryPeak: Math.max(0, ...perSecond),
  }
}

async function main (): Promise<void> {
  await rm(WORK, { recursive: true, force: true })
  await mkdir(WORK, { recursive: true })
  const runId = `${Date.now()}`
  const configDir = join(WORK, 'config')
  await cp(projectPath('config'), configDir, { recursive: true })
  const viettel = join(configDir, 'agencies', 'VN.VIETTEL.yaml')
  await writeFile(viettel, (await readFile(viettel, 'utf8')).replace(/perMinute: \d+/, 'perMinute: 10000000'))
  const population = join(configDir, 'adapters', 'population.yaml')
  let adapter = (await readFile(population, 'utf8')).replace(/( {2}verify:[\s\S]*?cache: \{ ttlSeconds: )\d+/, '$10')
  if (RPS !== null) {
    adapter = adapter.replace('  timeoutMs: 3000\n', `  timeoutMs: 3000\n  maxRequestsPerSecond: ${RPS}\n`)
  }
  await writeFile(population, adapter)
  await appendFile(join(configDir, 'gateway.yaml'), `redis:\n  keyPrefix: "ndx-bench-batch:${runId}:"\n`)
  const database = `ndx_bench_batch_${runId}`
  const adminClient = new pg.Client({ connectionString: PG_ADMIN })
  await adminClient.connect()
  await adminClient.query(`CREATE DATABASE ${database}`)
  const dbUrl = new URL(PG_ADMIN)
  dbUrl.pathname = `/${database}`

  const sims = await startSimulators({ ports: { population: 0, civilStatus: 0, businessRegistry: 0 } })
  const port = await freePort()
  const gateway = await startProcess('dist/gateway/main/gateway.js', {
    ...sims.env,
    PORT: String(port),
    CONFIG_DIR: configDir,
    REDIS_URL,
    DATABASE_URL: dbUrl.toString(),
    DATA_DIR: join(WORK, 'data'),
    LOG_LEVEL: 'warn',
    NDX_CHECKPOINT_KEY_FILE: projectPath('demo', 'keys', 'gateway-checkpoint.private.jwk.json'),
  }, `http://127.0.0.1:${port}/health/ready`)
  try {
    const signer = await signerFromFile('VN.VIETTEL', projectPath('demo', 'keys', 'VN.VIETTEL.private.jwk.json'))
    const client = new NdxClient({ baseUrl: `http://127.0.0.1:${port}`, signer })
    const citizens = [...registryData().citizens.values()]
    const item = (i: number): { params: { personalId: string }, body: { fullName: string } } => {
      const c = citizens[i % citizens.length] as Record<string, unknown>
      return { params: { personalId: c.soDinhDanh as string }, body: { fullName: c.hoVaTen as string } }
    }
    const requests = (): number => sims.population.stats.requests

    log(`single calls: ${SINGLE}, ${CONCURRENCY} at a time`)
    let next = 0
    let failures = 0
    const single = await measure(requests, SINGLE, async () => {
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < SINGLE) {
          const it = item(next++)
          const r = await client.verifyCitizen(it.params.personalId, it.body, { purpose: 'subscriber-verification' })
          if (r.status !== 200) failures++
        }
      }))
    })
    log(`single calls: ${single.itemsPerSecond.toFixed(0)}/s (registry ${single.registryMean.toFixed(0)}/s, ` +
      `peak ${single.registryPeak}/s), ${failures} not 200`)

    log(`batch: ${ITEMS} items${RPS === null ? '' : ` at maxRequestsPerSecond ${RPS}`}`)
    const items = Array.from({ length: ITEMS }, (_, i) => item(i))
    const t0 = performance.now()
    const body = { service: 'population', operation: 'verify', purpose: 'subscriber-verification', items }
    const submitted = await client.call<{ batchId: string }>('POST', '/v1/batches', { body })
    if (submitted.status !== 202) {
      throw new Error(`batch refused: ${submitted.status} ${JSON.stringify(submitted.body)}`)
    }
    const submitSeconds = (performance.now() - t0) / 1000
    const id = submitted.body.batchId
    let status: { state: string, done: number, failed: number } = { state: 'queued', done: 0, failed: 0 }
    const batch = await measure(requests, ITEMS, async () => {
      while (status.state !== 'done') {
        await sleep(1000)
        status = (await client.call<typeof status>('GET', `/v1/batches/${id}`)).body
        log(`  ${status.done + status.failed}/${ITEMS}`)
      }
    })
    const t1 = performance.now()
    const results = await client.call<string>('GET', `/v1/batches/${id}/results`)
    const downloadSeconds = (performance.now() - t1) / 1000
    const lines = typeof results.body === 'string' ? results.body.split('\n').filter((l) => l !== '').length : 0
    log(`batch: ${batch.itemsPerSecond.toFixed(0)} items/s (registry ${batch.registryMean.toFixed(0)}/s, ` +
      `peak ${batch.registryPeak}/s), ${status.failed} failed, ${lines} result lines`)

    const load = loadavg().map((l) => l.toFixed(1)).join(' / ')
    await writeSection([
      `## Batch lookups: ${ITEMS.toLocaleString('en-US')} verify items vs single calls (\`npm run bench:batch\`)`,
      '',
      `Run ${new Date().toISOString()}; gateway with Redis + PostgreSQL, batch workers in process` +
        ' (concurrency 32, window 32); population `verify` reuse off for the run (every item reaches the registry);' +
        ` registry pace ${RPS === null ? 'not set' : `${RPS}/s`}.`,
      '',
      '| | items | seconds | items/s | registry requests/s (mean) | registry requests/s (peak second) ' +
        '| not answered with data |',
      '|---|---:|---:|---:|---:|---:|---:|',
      row(`single signed calls, ${CONCURRENCY} at a time`, SINGLE, single, failures),
      row('one batch', ITEMS, batch, status.failed),
      '',
      `Load average of the machine (2 cores, shared) at the end of the run: ${load}` +
        ' (1 / 5 / 15 min): absolute rates fall with it; both rows were measured under the same load.',
      '',
      `Submitting the batch (${(JSON.stringify(items).length / 1048576).toFixed(1)} MiB, stored sealed in Redis)` +
        ` took ${submitSeconds.toFixed(1)} s;`,
      `downloading its ${lines} result lines took ${downloadSeconds.toFixed(1)} s.`,
      '',
    ].join('\n'))
  } finally {
    await stopProcess(gateway)
    await sims.close()
    await adminClient.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {})
    await adminClient.end()
    await rm(WORK, { recursive: true, force: true })
  }
}

function row (label: string, items: number, r: Rate, failed: number): string {
  const rates = [r.itemsPerSecond.toFixed(0), r.registryMean.toFixed(0), r.registryPeak]
  const cells = [label, items, r.seconds.toFixed(1), ...rates, failed]
  return `| ${cells.join(' | ')} |`
}

/** Replaces this benchmark's section of bench/RESULTS.md (or adds it before the analysis). */
async function writeSection (section: string): Promise<void> {
  const file = projectPath('bench', 'RESULTS.md')
  const text = await readFile(file, 'utf8')
  const start = text.indexOf('## Batch lookups')
  const rest = start === -1 ? -1 : text.indexOf('\n## ', start + 1)
  const out = start === -1
    ? text.replace('## Analysis', `${section}\n## Analysis`)
    : text.slice(0, start) + section + (rest === -1 ? '' : `\n${text.slice(rest + 1)}`)
  await writeFile(file, out)
  log('written to bench/RESULTS.md')
}

await main()
