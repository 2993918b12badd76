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
import type { LogThroughput } from './log-throughput.js'
import type { Budget } from './budget.js'
import type { RegistrySection } from './registry.js'
import type { ReuseSection } from './reuse.js'
import { f0, f1, verdict } from './format.js'
import { renderBudget, renderRegistry, renderReuse } from './report-sections.js'

export interface BenchReport {
  machine: string[]
  command: string
  date: string
  settings: { rounds: number; durationMs: number; warmupMs: number; connections: number }
  elapsedSeconds?: number
  sections: {
    reuse?: ReuseSection & { logged: { expected: number; found: number; drainMs: number } }
    budget?: Budget
    registry?: RegistrySection
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
  if (reuse !== undefined) renderReuse(reuse, out, targets)
  if (r.sections.budget !== undefined) renderBudget(r.sections.budget, out)
  if (registry !== undefined) renderRegistry(registry, out, targets)
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
      log.lost === 0 && (reuse === undefined || log.writePerSecond >= (reuse.scaled?.result.rps ?? reuse.gateway.rps)),
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
