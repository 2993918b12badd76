/**
 * A gateway with batches on real Redis (shared replay guard, reuse store, batch store and queues) and
 * batch workers in process; records go to a MemorySink unless a sink is given.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { RedisReplayGuard } from '../../gateway/auth/replay-guard.js'
import { createBatchService, type BatchService } from '../../gateway/batch/service.js'
import { loadConfig } from '../../gateway/config/load-config.js'
import type { GatewayConfig } from '../../core/config-types.js'
import { connectRedis, waitReady } from '../../gateway/process/redis.js'
import { RedisRecordStore } from '../../gateway/reuse/redis-store.js'
import { composeGateway } from '../../gateway/compose.js'
import { standaloneServices, reuseReader } from '../../gateway/services.js'
import { MemorySink, type TransactionSink } from '../../gateway/txlog/sink.js'
import type { RunningSimulators } from '../../simulators/index.js'
import { copyConfig, json, sharedSimulators, signedInject } from '../helpers/gateway.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { CHECKPOINT_ENV } from '../helpers/txlog.js'

export interface BatchConfigOptions {
  /** population's `upstream.maxRequestsPerSecond`. */
  readonly rps?: number
  /** Extra gateway.yaml text. */
  readonly gatewayYaml?: string
  /** `limits.batchBodyBytes`. */
  readonly batchBodyBytes?: number
}

/** A config copy with its Redis keys under `prefix`, a batch pace for population, and any extra settings. */
export async function batchConfigDir (t: Test, prefix: string, opts: BatchConfigOptions = {}): Promise<string> {
  const dir = await copyConfig(t)
  await appendFile(join(dir, 'gateway.yaml'), `redis:\n  keyPrefix: "${prefix}"\n${opts.gatewayYaml ?? ''}`)
  if (opts.batchBodyBytes !== undefined) {
    const file = join(dir, 'gateway.yaml')
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace(
        '  tokenBytes: 8192\n',
        `  tokenBytes: 8192\n  batchBodyBytes: ${opts.batchBodyBytes}\n`
      )
    )
  }
  if (opts.rps !== undefined) {
    const file = join(dir, 'adapters', 'population.yaml')
    const text = await readFile(file, 'utf8')
    await writeFile(
      file,
      text.replace('  timeoutMs: 3000\n', `  timeoutMs: 3000\n  maxRequestsPerSecond: ${opts.rps}\n`)
    )
  }
  return dir
}

export interface BatchGateway {
  readonly app: FastifyInstance
  readonly config: GatewayConfig
  readonly batches: BatchService
  readonly sink: MemorySink
  readonly sims: RunningSimulators
  readonly prefix: string
  readonly redis: import('ioredis').Redis
}

export async function batchGateway (
  t: Test, opts: BatchConfigOptions & { sink?: TransactionSink, workers?: boolean } = {}
): Promise<BatchGateway> {
  const sims = await sharedSimulators(t)
  const { redis: testClient, prefix } = await testRedis(t)
  const dir = await batchConfigDir(t, prefix, opts)
  const config = await loadConfig(dir, { ...sims.env, ...CHECKPOINT_ENV })
  const redis = connectRedis({ url: REDIS_URL, commandTimeoutMs: 1000 })
  await waitReady(redis, 2000)
  const sink = new MemorySink()
  const records = reuseReader(config, new RedisRecordStore(redis, prefix))
  const replayGuard = new RedisReplayGuard(redis, prefix)
  const batches = createBatchService(REDIS_URL, config)
  const services = standaloneServices(config, { records, replayGuard, redis, sink: opts.sink ?? sink, batches })
  const app = await composeGateway({ config, services, batchWorkers: opts.workers !== false })
  t.teardown(async () => {
    await app.close()
    await services.close()
    redis.disconnect()
  })
  await app.ready()
  return { app, config, batches, sink, sims, prefix, redis: testClient }
}

export const VERIFY = { service: 'population', operation: 'verify', purpose: 'subscriber-verification' }

/** The first `n` citizens of the simulators' data, as verify items claiming their true name. */
export type VerifyItem = { params: { personalId: string }, body: { fullName: string } }

export async function verifyItems (n: number, offset = 0): Promise<VerifyItem[]> {
  const { registryData } = await import('../../simulators/data.js')
  const all = [...registryData().citizens.values()].slice(offset, offset + n)
  return all.map((c) => ({ params: { personalId: c.soDinhDanh as string }, body: { fullName: c.hoVaTen as string } }))
}

export async function submit (
  app: FastifyInstance, agency: string, body: unknown, purpose?: string
): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await signedInject(
    app,
    agency,
    'POST',
    '/v1/batches',
    { body, ...(purpose === undefined ? {} : { purpose }) }
  )
  return { status: res.statusCode, body: json(res) }
}

export async function status (app: FastifyInstance, agency: string, id: string): Promise<Record<string, unknown>> {
  const res = await signedInject(app, agency, 'GET', `/v1/batches/${id}`)
  return { httpStatus: res.statusCode, ...json(res) }
}

/** Polls the batch's status until `until` holds or `ms` pass; returns the last status. */
export async function waitFor (
  app: FastifyInstance, agency: string, id: string, until: (s: Record<string, unknown>) => boolean, ms = 30_000
): Promise<Record<string, unknown>> {
  const end = Date.now() + ms
  for (;;) {
    const s = await status(app, agency, id)
    if (until(s) || Date.now() > end) return s
    await sleep(100)
  }
}

export async function results (
  app: FastifyInstance, agency: string, id: string
): Promise<{ status: number, contentType: string | undefined, lines: Array<Record<string, unknown>> }> {
  const res = await signedInject(app, agency, 'GET', `/v1/batches/${id}/results`)
  const lines = res.statusCode !== 200
    ? []
    : res.body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
  return { status: res.statusCode, contentType: res.headers['content-type'] as string | undefined, lines }
}
