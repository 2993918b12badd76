/**
 * The benchmark report: the machine, the figures side by side with their baselines and targets, written
 * to bench/RESULTS.md (linked from the README) and printed.
 */
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { cpus, totalmem, release } from 'node:os'
import { Redis } from 'ioredis'
import pg from 'pg'
import { projectPath } from '../core/paths.js'
import type { LoadResult } from './load.js'
import type { LogThroughput } from './log-throughput.js'
import type { CpuUse } from './processes.js'

export interface BenchReport {
  machine: string[]
  command: string
  date: string
  settings: { rounds: number; durationMs: number; warmupMs: number; connections: number }
  elapsedSeconds?: number
  sections: {
    reuse?: {
      gateway: LoadResult
      ceiling: LoadResult
      gwRuns: LoadResult[]
      ceilRuns: LoadResult[]
      ratio: number
      gwCpu: CpuUse[]
      ceilCpu: CpuUse[]
      logged: { expected: number; found: number; drainMs: number }
    }
    registry?: { rate: number; direct: LoadResult; gateway: LoadResult; addedP50: number; addedP99: number }
    log?: LogThroughput
    counts?: { rows: number; queries: Array<{ name: string; p50: number; max: number; total: number }> }
  }
}

export async function machine (redisUrl: string, pgUrl: string): Promise<string[]> {
  const cpu = cpus()
  let redisVersion = '?'
  let pgVersion = '?'
  try {
    const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await r.connect()
    redisVersion = /redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? '?'
    r.disconnect()
  } catch { /* unknown */ }
  try {
    const c = new pg.Client({ connectionString: pgUrl })
    await c.connect()
    pgVersion = ((await c.query('SHOW server_version')).rows[0] as { server_version: string }).server_version
    await c.end()
  } catch { /* unknown */ }
  let model = cpu[0]?.model ?? '?'
  try { model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model } catch { /* not Linux */ }
  return [
    `CPU: ${model}, ${cpu.length} cores`,
    `Memory: ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Linux ${release()}`,
    `Node ${process.version}; Redis ${redisVersion}; PostgreSQL ${pgVersion}`,
    'Everything on this one machine: gateway, log worker, Redis, PostgreSQL, simulators and the load generators.',
  ]
}

const f0 = (n: number): string => Number.isFinite(n) ? n.toFixed(0) : '–'
const f1 = (n: number): string => Number.isFinite(n) ? n.toFixed(1) : '–'
const f2 = (n: number): string => Number.isFinite(n) ? n.toFixed(2) : '–'
const pct = (x: number | null): string => x === null ? '–' : `${(x * 100).toFixed(0)}%`
const verdict = (ok: boolean): string => ok ? 'met' : '**missed**'

export function render (r: BenchReport): string {
  const out: string[] = [
    '# Benchmark results',
    '',
    `Produced by \`${r.command}\` on ${r.date} (${f0(r.elapsedSeconds ?? Number.NaN)} s).`,
    '',
  ]
  out.push('## Machine', '', ...r.machine.map((m) => `- ${m}`), '')
  out.push(
    'Method: load from separate processes (`bench/load.ts`), one fresh signed token per request (signed before ' +
      `the clock starts), ${r.settings.warmupMs / 1000} s warm-up then ${r.settings.durationMs / 1000} s measured; ` +
      `closed loop with ${r.settings.connections} connections unless a rate is given; latencies from ` +
      `\`process.hrtime\`; ${r.settings.rounds} round(s), gateway and baseline alternating, medians reported.`,
    ''
  )
  const targets: Array<[string, string, string, boolean]> = []
  const { reuse, registry, log, counts } = r.sections
  if (reuse !== undefined) {
    out.push(
      '## A. Signed reuse lookups: gateway vs ceiling',
      '',
      'Gateway: production mode — Redis (replay guard, reuse store, BullMQ log queue) and PostgreSQL ' +
        '(transaction log; its worker on a thread of the gateway process, as `npm run gateway` runs it), every ' +
        'request verified, authorized, answered from the reuse store, recorded durably before its reply. ' +
        'Ceiling: fastify + the same jose verification of the same tokens + a fixed reply.',
      '',
      '| | requests/s | p50 ms | p90 ms | p99 ms | rounds (req/s) |',
      '|---|---|---|---|---|---|',
      loadRow('ceiling', reuse.ceiling, reuse.ceilRuns.map((x) => f0(x.rps)).join(', ')),
      loadRow('gateway', reuse.gateway, reuse.gwRuns.map((x) => f0(x.rps)).join(', ')),
      '',
      `Ratio gateway/ceiling: **${f2(reuse.ratio)}**. ` +
        `Non-2xx replies from the gateway: ${reuse.gwRuns.reduce((n, x) => n + x.requests - x.ok, 0)}.`,
      '',
      `Log during this run: ${reuse.logged.found} of ${reuse.logged.expected} expected records in PostgreSQL ` +
        `(every request sent, warm-ups included), all there ${f1(reuse.logged.drainMs / 1000)} s after the last reply.`,
      '',
      'Machine busy while measuring (all cores, kernel included): ' +
        `ceiling run ${pct(reuse.ceiling.machineBusy)}, gateway run ${pct(reuse.gateway.machineBusy)}.`,
      '',
      'Where the CPU went (cores busy while measuring; the machine has 2):',
      '',
      '| ceiling run | cores | | gateway run | cores |',
      '|---|---|---|---|---|'
    )
    const rows = Math.max(reuse.ceilCpu.length, reuse.gwCpu.length, 1)
    const cell = (c: CpuUse | undefined): string =>
      c === undefined
        ? ' | '
        : `${c.label}${threads(c)} | ${f2(c.cores)}`
    for (let i = 0; i < Math.min(rows, 6); i++) out.push(`| ${cell(reuse.ceilCpu[i])} | | ${cell(reuse.gwCpu[i])} |`)
    out.push('')
    targets.push(['gateway/ceiling on reuse lookups', '≥ 0.8', f2(reuse.ratio), reuse.ratio >= 0.8])
    targets.push(['signed lookups/s with the log on', '≥ 5,000', f0(reuse.gateway.rps), reuse.gateway.rps >= 5000])
    targets.push([
      'the log keeps up (no record lost)',
      'all records',
      `${reuse.logged.found}/${reuse.logged.expected}`,
      reuse.logged.found >= reuse.logged.expected,
    ])
  }
  if (registry !== undefined) {
    out.push(
      `## B. Registry path: distinct subjects at ${registry.rate} requests/s`,
      '',
      'Every request names a citizen not asked before, so each goes through the gateway to the population ' +
        'simulator (REST/JSON). Baseline: the same simulator called directly.',
      '',
      '| | requests/s | p50 ms | p90 ms | p99 ms | non-2xx |',
      '|---|---|---|---|---|---|',
      loadRow('simulator directly', registry.direct, String(registry.direct.requests - registry.direct.ok)),
      loadRow('through the gateway', registry.gateway, String(registry.gateway.requests - registry.gateway.ok)),
      '',
      `Added by the gateway: p50 **${f2(registry.addedP50)} ms**, p99 **${f2(registry.addedP99)} ms**.`,
      ''
    )
    targets.push([
      `added p99 on the registry path at ${registry.rate}/s`,
      '≤ 2 ms',
      `${f2(registry.addedP99)} ms`,
      registry.addedP99 <= 2,
    ])
  }
  if (log !== undefined) {
    out.push(
      '## C. The transaction log alone',
      '',
      `${log.producers} concurrent producers append records through the gateway's queue sink (group commit → ` +
        'BullMQ) while one worker writes them to PostgreSQL (chained, rolled up, idempotent).',
      '',
      '| appended | appended/s | written | written/s (until the last one) | lost |',
      '|---|---|---|---|---|',
      `| ${log.appended} | ${f0(log.appendPerSecond)} | ${log.written} | ${f0(log.writePerSecond)} | ${log.lost} |`,
      ''
    )
    targets.push([
      'sustained records/s with zero loss',
      "≥ the gateway's lookups/s",
      `${f0(log.writePerSecond)}/s, ${log.lost} lost`,
      log.lost === 0 && (reuse === undefined || log.writePerSecond >= reuse.gateway.rps),
    ])
  }
  if (counts !== undefined) {
    out.push(
      `## D. \`counts\` over ${counts.rows.toLocaleString('en')} records`,
      '',
      'Through the auditor API (signed, recorded), on a log of 30 days seeded by SQL (`bench/seed-counts.ts`); ' +
        'median of 10 calls after 2 warm-ups.',
      '',
      '| query | total counted | p50 ms | max ms |',
      '|---|---|---|---|',
      ...counts.queries.map((q) => `| ${q.name} | ${q.total.toLocaleString('en')} | ${f1(q.p50)} | ${f1(q.max)} |`),
      ''
    )
    const worst = Math.max(...counts.queries.map((q) => q.p50))
    targets.push([
      `counts over ${(counts.rows / 1e6).toFixed(1)} M records`,
      '< 100 ms',
      `${f1(worst)} ms (slowest query p50)`,
      counts.rows >= 10_000_000 && worst < 100,
    ])
  }
  out.push(
    '## Targets',
    '',
    '| target | wanted | measured | |',
    '|---|---|---|---|',
    ...targets.map(([n, w, m, ok]) => `| ${n} | ${w} | ${m} | ${verdict(ok)} |`),
    ''
  )
  return out.join('\n')
}

/** One row of a load table: requests/s and latency percentiles, then a last cell. */
function loadRow (label: string, x: LoadResult, last: string): string {
  return `| ${label} | ${f0(x.rps)} | ${f2(x.p50)} | ${f2(x.p90)} | ${f2(x.p99)} | ${last} |`
}

/** A process's CPU split between its main thread and the others (the log worker, libuv's pool). */
function threads (c: CpuUse): string {
  return c.main === undefined ? '' : ` (main thread ${f2(c.main)}, other threads ${f2(c.other ?? 0)})`
}

export async function writeResults (r: BenchReport): Promise<string> {
  const path = projectPath('bench', 'RESULTS.md')
  const notes = projectPath('bench', 'NOTES.md')
  let analysis = ''
  try { analysis = '\n' + readFileSync(notes, 'utf8') } catch { /* none */ }
  const text = render(r) + analysis
  await writeFile(path, text)
  process.stdout.write('\n' + render(r) + '\n')
  return path
}
