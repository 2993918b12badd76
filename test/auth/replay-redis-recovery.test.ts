/**
 * Replays that got through around a Redis outage (red-team review, repros 1–2, and a Redis restarted
 * empty), each performed against gateway apps sharing a private redis-server that the test kills.
 */
import t, { type Test } from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import type { Redis } from 'ioredis'
import { RedisReplayGuard, type RedisGuardDisk } from '../../gateway/auth/replay-guard.js'
import { redisGuardDisk } from '../../gateway/auth/replay-journal.js'
import type { GatewayConfig } from '../../core/config-types.js'
import { connectRedis, waitReady } from '../../gateway/process/redis.js'
import { composeGateway } from '../../gateway/compose.js'
import { createServices, standaloneServices } from '../../gateway/services.js'
import { type GatewayServices } from '../../gateway/services.js'
import { readEnvironment } from '../../gateway/config/env.js'
import { signRequest } from '../../sdk/index.js'
import { demoConfig, demoSigner } from '../helpers/gateway.js'
import { freshDatabase } from '../helpers/postgres.js'
import { privateRedis, type PrivateRedis } from '../helpers/redis-server.js'

const TARGET = '/v1/business-registry/enterprises/2627349851'
const PREFIX = 'ndx-replay-recovery:'

interface Instance {
  app: FastifyInstance
  guard: RedisReplayGuard
  redis: Redis
  guards: Array<string | null>
  close (): Promise<void>
}

/** One gateway instance on `server`, its replay guard journalled under `dir` when given. */
async function instance (t: Test, server: PrivateRedis, config: GatewayConfig, dir?: string,
  onStateLost?: (until: number) => void): Promise<Instance> {
  const redis = connectRedis({ url: server.url, commandTimeoutMs: 250 })
  redis.on('error', () => {})
  await waitReady(redis, 2000)
  const disk: RedisGuardDisk | undefined = dir === undefined ? undefined : redisGuardDisk(dir)
  const guard = new RedisReplayGuard(redis, PREFIX, { disk, onStateLost })
  await guard.start()
  const services = standaloneServices(config, { replayGuard: guard, redis })
  const app = await composeGateway({ config, services })
  const guards: Array<string | null> = []
  app.addHook('onResponse', (req, _reply, done) => { guards.push(req.txn?.replayGuard ?? null); done() })
  await app.ready()
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await app.close()
    await services.close()
    redis.disconnect()
  }
  t.teardown(close)
  return { app, guard, redis, guards, close }
}

async function token (): Promise<string> {
  return signRequest(await demoSigner('VN.LOC.DNG'), { method: 'GET', target: TARGET })
}

const jtiKey = (tok: string): string => {
  const { jti } = JSON.parse(Buffer.from(tok.split('.')[1]!, 'base64url').toString()) as { jti: string }
  return `${PREFIX}jti:VN.LOC.DNG:${jti}`
}

async function send (app: FastifyInstance, tok: string): Promise<{ status: number, code?: string }> {
  const res = await app.inject({ method: 'GET', url: TARGET, headers: { authorization: `Bearer ${tok}` } })
  return res.statusCode === 200 ? { status: 200 } : { status: res.statusCode, code: JSON.parse(res.body).code }
}

/** Waits (up to `ms`) until `key` is in Redis; nobody sends a request meanwhile. */
async function appears (probe: Redis, key: string, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
    if ((await probe.exists(key).catch(() => 0)) === 1) return true
  }
  return false
}

async function probeOf (t: Test, server: PrivateRedis): Promise<Redis> {
  const probe = connectRedis({ url: server.url, commandTimeoutMs: 250 })
  probe.on('error', () => {})
  t.teardown(() => { probe.disconnect() })
  await waitReady(probe, 5000)
  return probe
}

async function tempDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ndx-replay-recovery-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('a token served alone while Redis was down is refused by another instance once Redis is back', async (t) => {
  const server = await privateRedis(t)
  const config = await demoConfig(t)
  const [a, b] = [await instance(t, server, config), await instance(t, server, config)]
  await server.kill()
  const tok = await token()
  t.same(await send(a.app, tok), { status: 200 }, 'Redis down: served by A')
  t.same(a.guards, ['local'], 'and recorded as guarded locally')

  await server.start()
  const probe = await probeOf(t, server)
  // No request reaches A: its connection coming back is enough to write the jti to Redis.
  t.ok(await appears(probe, jtiKey(tok)), 'A writes the jti to Redis when its connection is ready again')
  t.equal(a.guard.pending, 0, 'nothing is left pending on A')
  await waitReady(b.redis, 5000)
  t.same(await send(b.app, tok), { status: 401, code: 'auth.replayed' }, 'B refuses the replay')
})

t.test('a token served alone while Redis was down stays refused after that instance restarts', async (t) => {
  const server = await privateRedis(t)
  const config = await demoConfig(t)
  const dir = await tempDir(t)
  const a = await instance(t, server, config, dir)
  const b = await instance(t, server, config)
  await server.kill()
  const tok = await token()
  t.same(await send(a.app, tok), { status: 200 }, 'Redis down: served by A')
  t.same(a.guards, ['local'])
  const journal = await readFile(join(dir, 'jti.log'), 'utf8')
  t.match(journal, /^\d+\tVN\.LOC\.DNG\t[A-Za-z0-9_-]{16,}\n/, 'journalled under DATA_DIR')
  await a.close()

  await server.start()
  const probe = await probeOf(t, server)
  const again = await instance(t, server, config, dir)
  t.equal(await probe.exists(jtiKey(tok)), 1, 'the restarted A wrote the journalled jti to Redis before serving')
  t.same(await send(again.app, tok), { status: 401, code: 'auth.replayed' }, 'the restarted A refuses the replay')
  t.same(again.guards, ['local'], 'and does not claim the shared guard vouched: Redis came back empty')
  await waitReady(b.redis, 5000)
  t.same(await send(b.app, tok), { status: 401, code: 'auth.replayed' }, 'so does B')
  const fresh = await token()
  t.same(await send(again.app, fresh), { status: 200 }, 'a new token is served')
  t.equal(again.guards.at(-1), 'local', 'within the window after the loss it is marked local')
})

t.test('a Redis restarted empty does not reopen tokens served before the restart', async (t) => {
  const server = await privateRedis(t)
  const config = await demoConfig(t)
  const dir = await tempDir(t)
  const lost: number[] = []
  const a = await instance(t, server, config, dir, (until) => lost.push(until))
  const b = await instance(t, server, config)
  const before = await token()
  t.same(await send(a.app, before), { status: 200 }, 'Redis up: served by A')
  t.same(a.guards, ['shared'])
  const epoch = await readFile(join(dir, 'epoch'), 'utf8')
  t.match(epoch, /^\d+:[0-9a-f-]{36}:new$/, 'A keeps the Redis generation it saw under DATA_DIR')

  await server.kill()
  await server.start()
  const probe = await probeOf(t, server)
  t.ok(await appears(probe, jtiKey(before)), 'A writes back what it remembers once it sees Redis forgot')
  t.equal(lost.length, 1, 'A reports the loss once')
  const window = (lost[0]! - Date.now()) / 1000
  t.ok(window > 1200 && window <= 1260, `for the widest acceptance window (${Math.round(window)} s)`)
  await waitReady(b.redis, 5000)
  t.same(await send(b.app, before), { status: 401, code: 'auth.replayed' }, 'B refuses the replay')

  const after = await token()
  t.same(await send(b.app, after), { status: 200 }, 'a new token is served')
  t.equal(b.guards.at(-1), 'local', 'marked local: Redis could not vouch for what it forgot')
  t.same(await send(a.app, after), { status: 401, code: 'auth.replayed' }, 'and refused by A on replay')
  const late = await instance(t, server, config)
  t.same(await send(late.app, await token()), { status: 200 })
  t.equal(late.guards.at(-1), 'local', 'an instance started after the loss marks it too (the marker says lost)')
  t.equal(a.guard.pending + b.guard.pending, 0)
  t.not(await readFile(join(dir, 'epoch'), 'utf8'), epoch, 'A noted the new generation')
})

t.test('a journal that cannot be written while Redis is down refuses with 503 rather than forgetting', async (t) => {
  const server = await privateRedis(t)
  const redis = connectRedis({ url: server.url, commandTimeoutMs: 250 })
  redis.on('error', () => {})
  t.teardown(() => { redis.disconnect() })
  await waitReady(redis, 2000)
  const disk: RedisGuardDisk = {
    journal: { add () { throw new Error('ENOSPC') }, compact () {}, close () {} },
    entries: new Map(),
    epoch: null,
    saveEpoch () {},
  }
  const guard = new RedisReplayGuard(redis, PREFIX, { disk })
  t.teardown(() => guard.close())
  await guard.start()
  await server.kill()
  await t.rejects(guard.remember('VN.A', 'jti-nospace-000000001', 60), { code: 'gateway.unavailable', status: 503 })
  t.equal(guard.pending, 0, 'nothing was accepted')
})

t.test('production services: a jti guarded alone is journalled under DATA_DIR, in Redis before serving', async (t) => {
  const server = await privateRedis(t)
  const config = await demoConfig(t)
  const dataDir = await tempDir(t)
  const env = readEnvironment({ REDIS_URL: server.url, DATABASE_URL: await freshDatabase(t), DATA_DIR: dataDir })
  const start = async (): Promise<{ app: FastifyInstance, services: GatewayServices }> => {
    const services = await createServices(env, config, pino({ level: 'silent' }))
    const app = await composeGateway({ config, services })
    t.teardown(async () => { await app.close(); await services.close() })
    await app.ready()
    return { app, services }
  }
  const first = await start()
  await server.kill()
  const tok = await token()
  t.same(await send(first.app, tok), { status: 200 }, 'Redis down: served, guarded alone')
  const journal = await readFile(join(dataDir, 'replay', 'redis', 'jti.log'), 'utf8')
  t.match(journal, /^\d+\tVN\.LOC\.DNG\t/, 'journalled under DATA_DIR/replay/redis')
  // A crash, not a graceful close: its connection never comes back to write the jti (teardown closes it).
  first.services.redis!.disconnect()

  await server.start()
  const second = await start()
  const probe = await probeOf(t, server)
  const key = jtiKey(tok).replace(PREFIX, config.gateway.redis.keyPrefix)
  t.equal(await probe.exists(key), 1, 'written to Redis by the time the services are ready')
  t.same(await send(second.app, tok), { status: 401, code: 'auth.replayed' }, 'the replay is refused')
})
