/**
 * Section B of `npm run bench`: the registry path — every request names a citizen not asked before, so it
 * goes through the gateway to the population simulator — at a fixed rate (open loop), against the same
 * simulator called directly. Measured twice: on a quiet gateway, and right after a burst of lookups, while
 * the log worker is still writing the burst's records (catching up must not starve live requests).
 */
import type { LoadPlan, LoadResult } from './load.js'
import { runLoad } from './processes.js'
import { median, medianResult } from './reuse.js'

export interface RegistrySection {
  readonly rate: number
  readonly direct: LoadResult
  readonly gateway: LoadResult
  readonly addedP50: number
  readonly addedP99: number
  /** The same load right after a burst, while the log catches up. */
  readonly afterBurst: {
    readonly burst: LoadResult,
    readonly gateway: LoadResult,
    readonly addedP50: number,
    readonly addedP99: number
  } | null
}

export interface RegistryContext {
  readonly rounds: number
  readonly rate: number
  readonly durationMs: number
  readonly warmupMs: number
  /** Citizens never asked before, enough for every run. */
  readonly ids: readonly string[]
  readonly simulatorUrl: string
  readonly gatewayUrl: string
  readonly signer: NonNullable<LoadPlan['signer']>
  /** The burst: closed-loop reuse lookups (section A's plan). */
  readonly burst: LoadPlan
  /** Drops the gateway's kept population records (POST /v1/admin/purge), so citizens can be asked anew. */
  readonly purge: () => Promise<void>
  readonly log: (msg: string) => void
}

export async function registrySection (ctx: RegistryContext): Promise<RegistrySection> {
  const perRun = Math.ceil((ctx.rate * (ctx.durationMs + ctx.warmupMs)) / 1000) + 50
  if (ctx.ids.length < perRun) throw new Error(`section B needs ${perRun} citizens, the data has ${ctx.ids.length}`)
  // Each gateway run starts from a store without population records, so every citizen asked is a miss.
  const slice = async (): Promise<string[]> => {
    await ctx.purge()
    return ctx.ids.slice(0, perRun) as string[]
  }
  const direct = (ids: string[]): LoadPlan => ({
    url: ctx.simulatorUrl,
    targets: ids.map((id) => `/api/v1/cong-dan/${id}`),
    headers: { 'x-api-key': 'demo-population-key' },
    connections: 64,
    durationMs: ctx.durationMs,
    warmupMs: ctx.warmupMs,
    rate: ctx.rate,
    maxRequests: perRun,
  })
  const via = (ids: string[], warmupMs = ctx.warmupMs): LoadPlan => ({
    url: ctx.gatewayUrl,
    targets: ids.map((id) => `/v1/population/citizens/${id}`),
    signer: ctx.signer,
    connections: 64,
    durationMs: ctx.durationMs,
    warmupMs,
    rate: ctx.rate,
    maxRequests: perRun,
  })
  const directRuns: LoadResult[] = []
  const viaRuns: LoadResult[] = []
  for (let r = 0; r < ctx.rounds; r++) {
    ctx.log(`B: round ${r + 1}/${ctx.rounds}: simulator directly, then the gateway, ${ctx.rate}/s`)
    const ids = await slice()
    directRuns.push((await runLoad(direct(ids))).result)
    viaRuns.push((await runLoad(via(ids))).result)
  }
  const baseP50 = median(directRuns.map((x) => x.p50))
  const baseP99 = median(directRuns.map((x) => x.p99))

  ctx.log('B: a burst of lookups, then the same rate while the log catches up')
  // No warm-up: the first seconds after the burst are the ones measured.
  const fresh = await slice()
  const burst = (await runLoad(ctx.burst)).result
  const after = (await runLoad(via(fresh, 0))).result
  return {
    rate: ctx.rate,
    direct: medianResult(directRuns),
    gateway: medianResult(viaRuns),
    addedP50: median(viaRuns.map((x) => x.p50)) - baseP50,
    addedP99: median(viaRuns.map((x) => x.p99)) - baseP99,
    afterBurst: { burst, gateway: after, addedP50: after.p50 - baseP50, addedP99: after.p99 - baseP99 },
  }
}
