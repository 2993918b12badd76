/**
 * The environment (CONTRACT §1): the only place that reads `process.env`. Everything else receives this
 * typed object; `${NAME}` references in configuration are resolved from `vars`.
 */
import { resolve } from 'node:path'

export interface Environment {
  readonly port: number
  readonly host: string
  readonly configDir: string
  readonly redisUrl: string | null
  readonly databaseUrl: string | null
  readonly dataDir: string
  readonly logLevel: string
  /** Run the transaction-log worker inside the gateway process (default true). */
  readonly worker: boolean
  /** Load shedding: NDX_SHED_EVENT_LOOP_DELAY_MS (default 1000; 0 = off), NDX_SHED_MAX_INFLIGHT (default 5000). */
  readonly shed: { readonly maxEventLoopDelayMs: number, readonly maxInflight: number }
  /**
   * TRUST_PROXY: whose `X-Forwarded-For` names the client (the per-address bound of unverifiable requests keys
   * on it). Unset: nobody's, the socket's peer is the client. A number: that many proxy hops in front (the
   * compose load balancer is 1). Otherwise a comma-separated list of proxy addresses or CIDRs.
   */
  readonly trustProxy: number | string | false
  /**
   * NDX_REUSE_PORT=true: several gateway processes on one machine listen on the same port (SO_REUSEPORT; the
   * kernel spreads connections among them), which is how one machine's cores are used. Default false.
   */
  readonly reusePort: boolean
  readonly vars: Readonly<Record<string, string | undefined>>
}

function port (value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new Error(`${name} must be a port number, got ${JSON.stringify(value)}`)
  }
  return n
}

function count (value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value.trim() === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got ${JSON.stringify(value)}`)
  return n
}

export function readEnvironment (env: NodeJS.ProcessEnv = process.env): Environment {
  const blank = (v: string | undefined): string | null => v === undefined || v.trim() === '' ? null : v.trim()
  return Object.freeze({
    port: port(env.PORT, 8080, 'PORT'),
    host: blank(env.HOST) ?? '127.0.0.1',
    configDir: resolve(blank(env.CONFIG_DIR) ?? './config'),
    redisUrl: blank(env.REDIS_URL),
    databaseUrl: blank(env.DATABASE_URL),
    dataDir: resolve(blank(env.DATA_DIR) ?? './data'),
    logLevel: blank(env.LOG_LEVEL) ?? 'info',
    worker: (blank(env.NDX_WORKER) ?? 'true') !== 'false',
    shed: Object.freeze({
      maxEventLoopDelayMs: count(env.NDX_SHED_EVENT_LOOP_DELAY_MS, 1000, 'NDX_SHED_EVENT_LOOP_DELAY_MS'),
      maxInflight: count(env.NDX_SHED_MAX_INFLIGHT, 5000, 'NDX_SHED_MAX_INFLIGHT'),
    }),
    trustProxy: trustProxy(blank(env.TRUST_PROXY)),
    reusePort: (blank(env.NDX_REUSE_PORT) ?? 'false') === 'true',
    vars: Object.freeze({ ...env }),
  })
}

function trustProxy (value: string | null): number | string | false {
  if (value === null || value === 'false' || value === '0') return false
  if (/^\d+$/.test(value)) return Number(value)
  if (value === 'true') throw new Error('TRUST_PROXY must name the hops (e.g. 1) or the proxies\' addresses, not true')
  return value
}
