/**
 * The load generator, run as a separate process (forked by bench/run.ts). It signs one fresh token per
 * request before the clock starts, then sends them over keep-alive connections — closed loop (as fast as
 * the server answers) or open loop at a fixed rate — and reports throughput and latency percentiles
 * measured with process.hrtime (microsecond resolution; open-loop latency counts from the intended send
 * time, so queueing delay is not hidden).
 */
import { readFileSync } from 'node:fs'
import { Pool } from 'undici'
import { signerFromJwk, signRequest, type PrivateKeyFile } from '../sdk/index.js'

export interface LoadPlan {
  readonly url: string
  /** Request targets (path + query), used round-robin. */
  readonly targets: readonly string[]
  /** Sign with this agency's key; without it, requests go unsigned with `headers`. */
  readonly signer?: { agencyId: string, key: PrivateKeyFile, purpose?: string }
  readonly headers?: Record<string, string>
  readonly connections: number
  readonly durationMs: number
  readonly warmupMs: number
  /** Requests per second for an open-loop run; closed loop when absent. */
  readonly rate?: number
  /** Upper bound of requests to prepare (tokens are signed in advance). */
  readonly maxRequests: number
}

export interface LoadResult {
  readonly requests: number
  /** Every request sent, warm-up included (each one is a transaction to find in the log). */
  readonly sent: number
  readonly ok: number
  readonly failed: number
  readonly statuses: Record<string, number>
  readonly seconds: number
  readonly rps: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly transactionIds: number
  /** Share of all CPU cores busy during the measured window (Linux /proc/stat), or null. */
  readonly machineBusy: number | null
  /** This load generator's own CPU use during the window, in cores. */
  readonly loadCpu: number
}

function procStat (): number[] | null {
  try {
    return readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  } catch {
    return null
  }
}

function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

async function prepare (plan: LoadPlan): Promise<Array<{ path: string, headers: Record<string, string> }>> {
  const out: Array<{ path: string, headers: Record<string, string> }> = []
  const signer = plan.signer === undefined ? null : await signerFromJwk(plan.signer.agencyId, plan.signer.key)
  for (let i = 0; i < plan.maxRequests; i++) {
    const path = plan.targets[i % plan.targets.length] as string
    const headers: Record<string, string> = { ...plan.headers }
    if (signer !== null) {
      const purpose = plan.signer?.purpose === undefined ? {} : { purpose: plan.signer.purpose }
      headers.authorization = `Bearer ${await signRequest(signer, { method: 'GET', target: path, ...purpose })}`
    }
    out.push({ path, headers })
  }
  return out
}

export async function runLoad (plan: LoadPlan): Promise<LoadResult> {
  const prepared = await prepare(plan)
  const pool = new Pool(plan.url, { connections: plan.connections, pipelining: 1, keepAliveTimeout: 30_000 })
  let next = 0
  const take = (): { path: string, headers: Record<string, string> } | undefined => prepared[next++]
  const latencies: number[] = []
  const statuses: Record<string, number> = {}
  let failed = 0
  let txns = 0
  let measuring = false
  let stop = false

  const send = async (req: { path: string, headers: Record<string, string> }, startedAt: bigint): Promise<void> => {
    try {
      const res = await pool.request({ method: 'GET', path: req.path, headers: req.headers })
      await res.body.dump()
      if (measuring) {
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
        if (res.headers['x-transaction-id'] !== undefined) txns++
        latencies.push(Number(process.hrtime.bigint() - startedAt) / 1e6)
      }
    } catch {
      if (measuring) failed++
    }
  }

  let measuredFrom = 0n
  let stat0: number[] | null = null
  let stat1: number[] | null = null
  let cpu0 = process.cpuUsage()
  let cpu1 = cpu0
  const startMeasuring = setTimeout(() => {
    measuring = true
    measuredFrom = process.hrtime.bigint()
    stat0 = procStat()
    cpu0 = process.cpuUsage()
    process.send?.({ measuring: true })
  }, plan.warmupMs)
  const end = setTimeout(() => {
    stop = true
    stat1 = procStat()
    cpu1 = process.cpuUsage()
  }, plan.warmupMs + plan.durationMs)

  if (plan.rate === undefined) {
    const loop = async (): Promise<void> => {
      while (!stop) {
        const req = take()
        if (req === undefined) { stop = true; break }
        await send(req, process.hrtime.bigint())
      }
    }
    await Promise.all(Array.from({ length: plan.connections }, loop))
  } else {
    const interval = 1e9 / plan.rate
    const t0 = process.hrtime.bigint()
    const inflight = new Set<Promise<void>>()
    for (let i = 0; !stop; i++) {
      const due = t0 + BigInt(Math.round(i * interval))
      const now = process.hrtime.bigint()
      if (due > now) await new Promise((resolve) => setTimeout(resolve, Number(due - now) / 1e6))
      const req = take()
      if (req === undefined) break
      // Latency counts from the intended send time, so a late send's queueing is not hidden; a timer that
      // fires early must not make a request look faster than it was, so then from the actual send time.
      const sentAt = process.hrtime.bigint()
      const p = send(req, sentAt > due ? due : sentAt).finally(() => inflight.delete(p))
      inflight.add(p)
    }
    await Promise.all(inflight)
  }
  clearTimeout(startMeasuring)
  clearTimeout(end)
  const seconds = Number(process.hrtime.bigint() - measuredFrom) / 1e9
  await pool.close()
  let machineBusy: number | null = null
  const a = stat0 as number[] | null
  const b = (stat1 ?? procStat()) as number[] | null
  if (a !== null && b !== null) {
    const total = b.reduce((x, v, i) => x + v - (a[i] ?? 0), 0)
    const idle = (b[3]! - a[3]!) + (b[4]! - a[4]!)
    machineBusy = total > 0 ? (total - idle) / total : null
  }
  const loadCpu = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / 1e6 / seconds
  const sorted = Float64Array.from(latencies).sort()
  const ok = Object.entries(statuses).filter(([s]) => s.startsWith('2')).reduce((n, [, c]) => n + c, 0)
  return {
    requests: latencies.length + failed,
    sent: Math.min(next, prepared.length),
    ok,
    failed,
    statuses,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1] as number,
    transactionIds: txns,
    machineBusy,
    loadCpu,
  }
}

// As a forked child: one plan in, one result out.
if (process.send !== undefined) {
  process.once('message', (plan: LoadPlan) => {
    runLoad(plan).then(
      (result) => {
        process.send?.({ result })
        process.exit(0)
      },
      (err: unknown) => {
        console.error(err)
        process.exit(1)
      }
    )
  })
}
