/**
 * A gateway whose transaction log is real: PostgreSQL (a fresh database) or PGlite, and, with a Redis URL,
 * the BullMQ queue and a worker.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import type { GatewayConfig } from '../../core/config-types.js'
import { readEnvironment } from '../../gateway/config/env.js'
import { projectPath } from '../../core/paths.js'
import { standaloneServices } from '../../gateway/services.js'
import { openTransactionLog, type TransactionLog } from '../../gateway/txlog/log.js'
import type { Sql } from '../../gateway/txlog/sql.js'
import { buildTestGateway, demoConfig, type TestGateway } from './gateway.js'
import { freshDatabase } from './postgres.js'

export const CHECKPOINT_ENV = {
  NDX_CHECKPOINT_KEY_FILE: projectPath('demo', 'keys', 'gateway-checkpoint.private.jwk.json'),
}

export async function tempDir (t: Test, prefix = 'ndx-data-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export interface LogGateway extends TestGateway { readonly log: TransactionLog, readonly databaseUrl: string | null }

export async function logGateway (
  t: Test,
  opts: { config?: GatewayConfig; database?: 'postgres' | 'pglite'; env?: Record<string, string> } = {}
): Promise<LogGateway> {
  const config = opts.config ?? (await demoConfig(t, CHECKPOINT_ENV))
  const databaseUrl = opts.database === 'pglite' ? null : await freshDatabase(t)
  const env = readEnvironment({
    DATA_DIR: await tempDir(t),
    ...(databaseUrl === null ? {} : { DATABASE_URL: databaseUrl }),
    ...opts.env,
  })
  const log = await openTransactionLog(env, config, pino({ level: 'silent' }), null)
  const gw = await buildTestGateway(t, { config, services: standaloneServices(config, { log }) })
  return { ...gw, log, databaseUrl }
}

/** A config copy whose Redis keys (reuse, replay, queue) live under `prefix`. */
export async function configWithPrefix (
  t: Test,
  prefix: string,
  env: Record<string, string> = {}
): Promise<{ dir: string; config: GatewayConfig }> {
  const { copyConfig, sharedSimulators } = await import('./gateway.js')
  const { loadConfig } = await import('../../gateway/config/load-config.js')
  const { appendFile } = await import('node:fs/promises')
  const dir = await copyConfig(t)
  await appendFile(join(dir, 'gateway.yaml'), `redis:\n  keyPrefix: "${prefix}"\n`)
  const sims = await sharedSimulators(t)
  return { dir, config: await loadConfig(dir, { ...sims.env, ...CHECKPOINT_ENV, ...env }) }
}

/** A gateway in production shape: Redis (queue, reuse, replay) and PostgreSQL, the worker in process. */
export async function queueGateway (
  t: Test,
  opts: { redisUrl: string; prefix: string; databaseUrl?: string; worker?: boolean }
): Promise<LogGateway & { dataDir: string }> {
  const { connectRedis, waitReady } = await import('../../gateway/process/redis.js')
  const { config } = await configWithPrefix(t, opts.prefix)
  const databaseUrl = opts.databaseUrl ?? (await freshDatabase(t))
  const dataDir = await tempDir(t)
  const env = readEnvironment({
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    REDIS_URL: opts.redisUrl,
    NDX_WORKER: opts.worker === false ? 'false' : 'true',
  })
  const redis = connectRedis({ url: opts.redisUrl, commandTimeoutMs: 250 })
  await waitReady(redis, 2000)
  t.teardown(() => {
    redis.disconnect()
  })
  const log = await openTransactionLog(env, config, pino({ level: 'silent' }), redis)
  // The 2 s visibility promise holds from when a worker runs; under tap's TypeScript loader its thread
  // takes seconds to load its code.
  await log.ready()
  const gw = await buildTestGateway(t, { config, services: standaloneServices(config, { log, redis }) })
  return { ...gw, log, databaseUrl, dataDir }
}

/** How many of `ids` the log holds. */
export async function loggedCount (sql: Sql, ids: readonly string[]): Promise<number> {
  return (
    (await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM ndx_tx WHERE id = ANY($1::uuid[])', [ids]))[0]
      ?.n ?? 0
  )
}

/** Polls until every id is in the log or `ms` pass; a query that fails (database away) counts as not yet. */
export async function waitLogged (sql: Sql, ids: readonly string[], ms: number): Promise<number> {
  const end = Date.now() + ms
  let found = -1
  for (;;) {
    found = await loggedCount(sql, ids).catch(() => -1)
    if (found === ids.length || Date.now() >= end) return found
    await sleep(50)
  }
}

/** Rows repeating an id already in the log: 0 when every record was written exactly once. */
export async function duplicateCount (sql: Sql): Promise<number> {
  return (await sql.query<{ n: number }>('SELECT count(*)::int - count(DISTINCT id)::int AS n FROM ndx_tx'))[0]?.n ?? 0
}
