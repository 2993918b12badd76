/**
 * Section D of `npm run bench`: `counts` through the auditor API (signed, recorded) over a log of 30 days
 * seeded by SQL (bench/seed-counts.ts), median of 10 calls after 2 warm-ups, per query.
 */
import { join } from 'node:path'
import { projectPath } from '../core/paths.js'
import { NdxClient, signerFromFile } from '../sdk/index.js'
import { freePort, startProcess, stopProcess } from './processes.js'
import type { BenchReport } from './report.js'
import { median } from './reuse.js'

export async function countsLatency (
  simEnv: Record<string, string>,
  configDir: string,
  databaseUrl: string,
  rows: number,
  workDir: string
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
      DATA_DIR: join(workDir, 'data-counts'),
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
