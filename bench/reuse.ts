/**
 * Section A of `npm run bench`: signed reuse lookups through the gateway in production mode, against two
 * ceilings in the same run — fastify verifying the same tokens with jose (WebCrypto) and with node:crypto
 * (KeyObject on libuv's pool) and answering a fixed record. The ratio is to the faster ceiling. Then two
 * gateway processes sharing the port (NDX_REUSE_PORT), which is how an operator uses a second core.
 */
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import type { LoadPlan, LoadResult } from './load.js'
import { cpuBetween, freePort, runLoad, startProcess, stopProcess, type CpuUse } from './processes.js'

export interface Ceiling {
  readonly name: 'jose' | 'node:crypto'
  readonly result: LoadResult
  readonly runs: LoadResult[]
  readonly cpu: CpuUse[]
}

export interface ReuseSection {
  readonly gateway: LoadResult
  readonly gwRuns: LoadResult[]
  readonly gwCpu: CpuUse[]
  readonly ceilings: Ceiling[]
  /** The faster ceiling's name, and gateway / that ceiling (medians of rounds). */
  readonly faster: string
  readonly ratio: number
  /** Two gateway processes on one port. */
  readonly scaled: { readonly result: LoadResult, readonly runs: LoadResult[], readonly cpu: CpuUse[] } | null
  /** Requests sent to the gateways (each one a transaction to find in the log). */
  readonly sent: number
}

export interface ReuseContext {
  readonly rounds: number
  readonly plan: (url: string) => LoadPlan
  /** The running gateway (started with NDX_REUSE_PORT), and how to start another on the same port. */
  readonly gateway: { readonly url: string, readonly process: ChildProcess }
  readonly startAnother: () => Promise<ChildProcess>
  readonly publicJwk: Record<string, unknown>
  readonly labels: Map<number, string>
  readonly log: (msg: string) => void
  readonly children: ChildProcess[]
  readonly workDir: string
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  return ((s[Math.floor((s.length - 1) / 2)] as number) + (s[Math.ceil((s.length - 1) / 2)] as number)) / 2
}

export function medianResult (results: LoadResult[]): LoadResult {
  return [...results].sort((a, b) => a.rps - b.rps)[Math.floor(results.length / 2)] as LoadResult
}

async function startCeiling (
  how: 'jose' | 'node',
  jwk: Record<string, unknown>
): Promise<ChildProcess & { url: string }> {
  const port = await freePort()
  const child = await startProcess(
    'dist/bench/ceiling.js',
    { PORT: String(port), CEILING_JWK: JSON.stringify(jwk), CEILING_VERIFY: how },
    /ceiling listening/
  )
  return Object.assign(child, { url: `http://127.0.0.1:${port}` })
}

export async function reuseSection (ctx: ReuseContext): Promise<ReuseSection> {
  const ceilings = [
    { name: 'jose' as const, proc: await startCeiling('jose', ctx.publicJwk) },
    { name: 'node:crypto' as const, proc: await startCeiling('node', ctx.publicJwk) },
  ]
  const runs = new Map<string, LoadResult[]>(ceilings.map((c) => [c.name, []]))
  const cpus = new Map<string, CpuUse[]>()
  for (const c of ceilings) ctx.labels.set(c.proc.pid as number, `ceiling (${c.name})`)
  const gwRuns: LoadResult[] = []
  let gwCpu: CpuUse[] = []
  let sent = 0
  try {
    for (let r = 0; r < ctx.rounds; r++) {
      for (const c of ceilings) {
        ctx.log(`A: round ${r + 1}/${ctx.rounds}: ceiling (${c.name})`)
        const run = await runLoad(ctx.plan(c.proc.url), [c.proc.pid as number])
        runs.get(c.name)?.push(run.result)
        if (run.snapshots !== null) cpus.set(c.name, cpuBetween(...run.snapshots, run.result.seconds, ctx.labels))
      }
      ctx.log(`A: round ${r + 1}/${ctx.rounds}: gateway`)
      const g = await runLoad(ctx.plan(ctx.gateway.url), [ctx.gateway.process.pid as number])
      gwRuns.push(g.result)
      sent += g.result.sent
      if (g.snapshots !== null) gwCpu = cpuBetween(...g.snapshots, g.result.seconds, ctx.labels)
      ctx.log(`A: ${ceilings.map((c) => `${c.name} ${runs.get(c.name)?.at(-1)?.rps.toFixed(0)}/s`).join(', ')}, ` +
        `gateway ${g.result.rps.toFixed(0)}/s`)
    }
  } finally {
    for (const c of ceilings) await stopProcess(c.proc)
  }
  const measured: Ceiling[] = ceilings.map((c) => {
    const rs = runs.get(c.name) ?? []
    return { name: c.name, result: medianResult(rs), runs: rs, cpu: cpus.get(c.name) ?? [] }
  })
  const faster = measured.reduce((a, b) => median(b.runs.map((x) => x.rps)) > median(a.runs.map((x) => x.rps)) ? b : a)
  const ratio = median(gwRuns.map((x) => x.rps)) / median(faster.runs.map((x) => x.rps))

  // Two processes on one port: the kernel spreads the load generator's connections between them.
  ctx.log('A: a second gateway process on the same port')
  const second = await ctx.startAnother()
  ctx.children.push(second)
  ctx.labels.set(second.pid as number, 'gateway 2 (+ log worker)')
  const scaledRuns: LoadResult[] = []
  let scaledCpu: CpuUse[] = []
  try {
    for (let r = 0; r < Math.max(1, Math.min(2, ctx.rounds)); r++) {
      const s = await runLoad(ctx.plan(ctx.gateway.url), [ctx.gateway.process.pid as number, second.pid as number])
      scaledRuns.push(s.result)
      sent += s.result.sent
      if (s.snapshots !== null) scaledCpu = cpuBetween(...s.snapshots, s.result.seconds, ctx.labels)
      ctx.log(`A: two gateway processes ${s.result.rps.toFixed(0)}/s`)
    }
  } finally {
    await stopProcess(second)
  }
  return {
    gateway: medianResult(gwRuns),
    gwRuns,
    gwCpu,
    ceilings: measured,
    faster: faster.name,
    ratio,
    scaled: { result: medianResult(scaledRuns), runs: scaledRuns, cpu: scaledCpu },
    sent,
  }
}

/** A data directory per gateway process: spool files and replay journals are a process's own. */
export function dataDir (workDir: string, n: number): string {
  return join(workDir, `data-${n}`)
}
