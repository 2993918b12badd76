/**
 * The report of sections A (reuse lookups against both ceilings, one and two gateway processes), P (the
 * per-request CPU budget) and B (the registry path, quiet and while the log catches up).
 */
import type { Budget } from './budget.js'
import type { LoadResult } from './load.js'
import type { CpuUse } from './processes.js'
import type { RegistrySection } from './registry.js'
import { f0, f1, f2, pct } from './format.js'
import type { ReuseSection } from './reuse.js'

type Target = [string, string, string, boolean]

/** One row of a load table: requests/s and latency percentiles, then a last cell. */
export function loadRow (label: string, x: LoadResult, last: string): string {
  return `| ${label} | ${f0(x.rps)} | ${f2(x.p50)} | ${f2(x.p90)} | ${f2(x.p99)} | ${last} |`
}

/** A process's CPU by thread: main, log worker, libuv's pool (signatures), V8's helpers. */
function threads (c: CpuUse): string {
  if (c.threads === undefined) return ''
  const parts = Object.entries(c.threads).filter(([, v]) => v >= 0.01).sort((x, y) => y[1] - x[1])
  return ` (${parts.map(([name, v]) => `${name} ${f2(v)}`).join(', ')})`
}

function cpuTable (columns: Array<[string, CpuUse[]]>, out: string[]): void {
  out.push(`| ${columns.map(([name]) => `${name} | cores`).join(' | | ')} |`)
  out.push(`|${columns.map(() => '---|---|').join('---|')}`)
  const rows = Math.min(6, Math.max(1, ...columns.map(([, c]) => c.length)))
  for (let i = 0; i < rows; i++) {
    out.push(`| ${columns.map(([, c]) => {
      const x = c[i]
      return x === undefined ? ' | ' : `${x.label}${threads(x)} | ${f2(x.cores)}`
    }).join(' | | ')} |`)
  }
  out.push('')
}

export function renderReuse (
  reuse: ReuseSection & { logged: { expected: number; found: number; drainMs: number } },
  out: string[],
  targets: Target[]
): void {
  const rounds = (runs: LoadResult[]): string => runs.map((x) => f0(x.rps)).join(', ')
  out.push(
    '## A. Signed reuse lookups: gateway vs ceilings',
    '',
    'Gateway: production mode — Redis (replay guard, quota, reuse store, BullMQ log queue) and PostgreSQL ' +
      '(transaction log; its worker on a thread of the gateway process, as `npm run gateway` runs it), every ' +
      'request verified, authorized, answered from the reuse store, recorded durably before its reply. ' +
      'Ceilings: fastify verifying the same tokens and answering a fixed record — with jose (WebCrypto), and ' +
      "with node:crypto's KeyObject verify on libuv's pool. The ratio is to the faster ceiling.",
    '',
    '| | requests/s | p50 ms | p90 ms | p99 ms | rounds (req/s) |',
    '|---|---|---|---|---|---|',
    ...reuse.ceilings.map((c) => loadRow(`ceiling (${c.name})`, c.result, rounds(c.runs))),
    loadRow('gateway, one process', reuse.gateway, rounds(reuse.gwRuns)),
    ...(reuse.scaled === null
      ? []
      : [loadRow('gateway, two processes (one port)', reuse.scaled.result, rounds(reuse.scaled.runs))]),
    '',
    `Ratio gateway/ceiling: **${f2(reuse.ratio)}** (to the faster ceiling, ${reuse.faster}). ` +
      `Non-2xx replies from the gateway: ${reuse.gwRuns.reduce((n, x) => n + x.requests - x.ok, 0)}.`,
    '',
    `Log during this run: ${reuse.logged.found} of ${reuse.logged.expected} expected records in PostgreSQL ` +
      `(every request sent, warm-ups included), all there ${f1(reuse.logged.drainMs / 1000)} s after the last reply.`,
    '',
    'Machine busy while measuring (all cores, kernel included): ' +
      `${reuse.ceilings.map((c) => `ceiling (${c.name}) ${pct(c.result.machineBusy)}`).join(', ')}, ` +
      `gateway ${pct(reuse.gateway.machineBusy)}.`,
    '',
    'Where the CPU went (cores busy while measuring; the machine has 2):',
    ''
  )
  cpuTable(
    [
      ...reuse.ceilings.map((c): [string, CpuUse[]] => [`ceiling (${c.name})`, c.cpu]),
      ['gateway run', reuse.gwCpu],
      ...(reuse.scaled === null ? [] : [['two gateway processes', reuse.scaled.cpu] as [string, CpuUse[]]]),
    ],
    out
  )
  targets.push([
    'gateway/ceiling on reuse lookups (faster ceiling)',
    '≥ 0.5 (goal 0.8)',
    f2(reuse.ratio),
    reuse.ratio >= 0.5,
  ])
  targets.push([
    'signed reuse lookups/s, one process, log on',
    '≥ 7,000',
    f0(reuse.gateway.rps),
    reuse.gateway.rps >= 7000,
  ])
  targets.push([
    'the log keeps up (no record lost)',
    'all records',
    `${reuse.logged.found}/${reuse.logged.expected}`,
    reuse.logged.found >= reuse.logged.expected,
  ])
}

export function renderBudget (budget: Budget, out: string[]): void {
  out.push(
    '## P. Per-request CPU budget (one profiled gateway round)',
    '',
    'CPU per request while measuring one round of section A\'s lookups at a fixed rate (the machine not ' +
      'saturated, so that profiles charge CPU, not waiting), from /proc by process and thread; the ' +
      'main and log-worker threads split into steps by V8 CPU profiles (`--cpu-prof`), each sample charged to ' +
      `the step of the nearest gateway frame on its stack (\`bench/budget.ts\`). ${budget.requests} requests; ` +
      'profiling slows the gateway somewhat.',
    '',
    '| step | µs per request | where |',
    '|---|---|---|',
    ...budget.rows.map((r) => `| ${r.step} | ${f0(r.us)} | ${r.where} |`),
    `| **all gateway threads** | **${f0(budget.totalUs)}** | |`,
    ''
  )
}

export function renderRegistry (registry: RegistrySection, out: string[], targets: Target[]): void {
  const failed = (x: LoadResult): string => String(x.requests - x.ok)
  out.push(
    `## B. Registry path: distinct subjects at ${registry.rate} requests/s`,
    '',
    'Every request names a citizen not asked before, so each goes through the gateway to the population ' +
      'simulator (REST/JSON). Baseline: the same simulator called directly. Then the same load right after a ' +
      "burst of reuse lookups, while the log worker is still writing the burst's records.",
    '',
    '| | requests/s | p50 ms | p90 ms | p99 ms | non-2xx |',
    '|---|---|---|---|---|---|',
    loadRow('simulator directly', registry.direct, failed(registry.direct)),
    loadRow('through the gateway', registry.gateway, failed(registry.gateway)),
    ...(registry.afterBurst === null
      ? []
      : [
          loadRow(
            'through the gateway, right after a burst',
            registry.afterBurst.gateway,
            failed(registry.afterBurst.gateway)
          ),
        ]),
    '',
    `Added by the gateway: p50 **${f2(registry.addedP50)} ms**, p99 **${f2(registry.addedP99)} ms**` +
      (registry.afterBurst === null
        ? '.'
        : `; after a burst (${f0(registry.afterBurst.burst.rps)} requests/s ` +
          `for ${f0(registry.afterBurst.burst.seconds)} s, ` +
          `statuses ${JSON.stringify(registry.afterBurst.burst.statuses)}): ` +
          `p50 **${f2(registry.afterBurst.addedP50)} ms**, p99 **${f2(registry.afterBurst.addedP99)} ms**.`),
    ''
  )
  targets.push([`added p50 on the registry path at ${registry.rate}/s`, '≤ 1.5 ms', `${f2(registry.addedP50)} ms`,
    registry.addedP50 <= 1.5])
  targets.push([
    `added p99 on the registry path at ${registry.rate}/s`,
    '≤ 5 ms (goal 2)',
    `${f2(registry.addedP99)} ms`,
    registry.addedP99 <= 5,
  ])
  if (registry.afterBurst !== null) {
    targets.push(['added p99 right after a burst (log catching up)', '≤ 5 ms', `${f2(registry.afterBurst.addedP99)} ms`,
      registry.afterBurst.addedP99 <= 5])
  }
}
