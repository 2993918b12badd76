/**
 * Replays that used to get through (issue 10, items 1–3), each performed against a running gateway:
 * after a restart in standalone mode, across instances while Redis is down, and after a reload that
 * widens the clock window.
 */
import t, { type Test } from 'tap'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import type { FastifyInstance } from 'fastify'
import {
  MAX_CLOCK_SKEW_SECONDS, MemoryReplayGuard, RedisReplayGuard, type ReplayGuard,
} from '../../gateway/auth/replay-guard.js'
import { loadConfig } from '../../gateway/config/load-config.js'
import type { GatewayConfig } from '../../core/config-types.js'
import { readEnvironment } from '../../gateway/config/env.js'
import { connectRedis, waitReady } from '../../gateway/process/redis.js'
import { composeGateway } from '../../gateway/compose.js'
import { createServices, standaloneServices } from '../../gateway/services.js'
import { type GatewayServices } from '../../gateway/services.js'
import { projectPath } from '../../core/paths.js'
import { signRequest } from '../../sdk/index.js'
import { copyConfig, demoConfig, demoSigner, sharedSimulators } from '../helpers/gateway.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { privateRedis } from '../helpers/redis-server.js'

const TARGET = '/v1/business-registry/enterprises/2627349851'

interface Instance { app: FastifyInstance, guards: Array<string | null> }

/** A gateway app that notes how each request's jti was guarded (the record's `replayGuard`). */
async function instance (t: Test, config: GatewayConfig, services: GatewayServices): Promise<Instance> {
  const app = await composeGateway({ config, services })
  const guards: Array<string | null> = []
  app.addHook('onResponse', (req, _reply, done) => { guards.push(req.txn?.replayGuard ?? null); done() })
  t.teardown(async () => { await app.close(); await services.close() })
  await app.ready()
  return { app, guards }
}

async function token (iat?: number): Promise<string> {
  const signer = await demoSigner('VN.LOC.DNG')
  return signRequest(signer, { method: 'GET', target: TARGET, ...(iat === undefined ? {} : { iat }) })
}

interface Sent { status: number, code: string | undefined, retryAfter: string | undefined }

async function send (app: FastifyInstance, tok: string): Promise<Sent> {
  const res = await app.inject({ method: 'GET', url: TARGET, headers: { authorization: `Bearer ${tok}` } })
  const code = res.statusCode === 200 ? undefined : (JSON.parse(res.body) as { code: string }).code
  return { status: res.statusCode, code, retryAfter: res.headers['retry-after'] as string | undefined }
}

t.test('a replayed token stays refused after a standalone gateway restarts on the same DATA_DIR', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'ndx-replay-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const config = await demoConfig(t)
  const env = readEnvironment({ DATA_DIR: dataDir })
  const start = async (): Promise<{ app: FastifyInstance, services: GatewayServices }> => {
    const services = await createServices(env, config, pino({ level: 'silent' }))
    const app = await composeGateway({ config, services })
    await app.ready()
    return { app, services }
  }
  const tok = await token()
  let gw = await start()
  t.equal((await send(gw.app, tok)).status, 200, 'first use')
  t.equal((await send(gw.app, tok)).code, 'auth.replayed', 'replay refused')
  await gw.app.close()
  await gw.services.close()

  gw = await start()
  t.teardown(async () => { await gw.app.close(); await gw.services.close() })
  t.equal((await send(gw.app, tok)).code, 'auth.replayed', 'still refused after the restart')
  const journal = await readFile(join(dataDir, 'replay', 'jti.log'), 'utf8')
  t.match(journal, /^\d+\tVN\.LOC\.DNG\t[A-Za-z0-9_-]{16,}\n/, 'the jti is journalled under DATA_DIR')
  const fresh = await token()
  t.equal((await send(gw.app, fresh)).status, 200, 'a new token is served')
})

t.test('a reload that widens the clock window does not reopen a used token', async (t) => {
  const sims = await sharedSimulators(t)
  const dir = await copyConfig(t)
  const file = join(dir, 'gateway.yaml')
  await writeFile(file, (await readFile(file, 'utf8')).replace('maxClockSkewSeconds: 60', 'maxClockSkewSeconds: 5'))
  const narrow = await loadConfig(dir, sims.env)
  t.equal(narrow.gateway.maxClockSkewSeconds, 5)
  const { redis, prefix } = await testRedis(t)
  const shared = connectRedis({ url: REDIS_URL, commandTimeoutMs: 250 })
  t.teardown(() => { shared.disconnect() })
  await waitReady(shared, 2000)
  const guards: ReplayGuard[] = [new MemoryReplayGuard(), new RedisReplayGuard(shared, prefix)]
  const gws = await Promise.all(guards.map((g) => instance(t, narrow, standaloneServices(narrow, { replayGuard: g }))))

  const iat = Math.floor(Date.now() / 1000) - 4
  const tokens = await Promise.all(gws.map(() => token(iat)))
  const kind = (i: number): string => i === 0 ? 'memory' : 'redis'
  for (const [i, gw] of gws.entries()) t.equal((await send(gw.app, tokens[i]!)).status, 200, `first use (${kind(i)})`)

  await writeFile(file, (await readFile(file, 'utf8')).replace('maxClockSkewSeconds: 5', 'maxClockSkewSeconds: 120'))
  const wide = await loadConfig(dir, sims.env)
  for (const gw of gws) gw.app.gateway.replace(wide)
  // The narrow window (and the old retention, twice the skew) is over; the widened one still accepts the iat.
  const wait = (iat + 11) * 1000 - Date.now()
  if (wait > 0) await sleep(wait)
  for (const [i, gw] of gws.entries()) {
    t.equal((await send(gw.app, tokens[i]!)).code, 'auth.replayed', `replay refused (${kind(i)})`)
  }
  const jti = JSON.parse(Buffer.from(tokens[1]!.split('.')[1]!, 'base64url').toString()).jti as string
  const ttl = await redis.ttl(`${prefix}jti:VN.LOC.DNG:${jti}`)
  t.ok(ttl > 120, `Redis keeps the jti past any window a reload could set (ttl ${ttl} s)`)
})

t.test('the retention covers the widest window the schema allows', async (t) => {
  const text = await readFile(projectPath('schemas', 'gateway.schema.json'), 'utf8')
  const schema = JSON.parse(text) as { properties: { maxClockSkewSeconds: { maximum: number } } }
  t.equal(schema.properties.maxClockSkewSeconds.maximum, MAX_CLOCK_SKEW_SECONDS)
})

t.test('while Redis is down: guarded locally and marked so, or refused with 503', async (t) => {
  const server = await privateRedis(t)
  const config = await demoConfig(t)
  const prefix = 'ndx-replay-down:'
  const make = async (): Promise<Instance> => {
    const redis = connectRedis({ url: server.url, commandTimeoutMs: 250 })
    redis.on('error', () => {})
    t.teardown(() => { redis.disconnect() })
    await waitReady(redis, 2000)
    return instance(t, config, standaloneServices(config, { replayGuard: new RedisReplayGuard(redis, prefix), redis }))
  }
  const [a, b] = [await make(), await make()]
  const up = await token()
  t.equal((await send(a.app, up)).status, 200)
  t.equal((await send(b.app, up)).code, 'auth.replayed', 'Redis up: the other instance refuses the replay')
  t.same(a.guards, ['shared'])
  t.same(b.guards, ['shared'])

  await server.kill()
  const down = await token()
  t.equal((await send(a.app, down)).status, 200, 'Redis down: served, guarded locally')
  t.equal(a.guards.at(-1), 'local', 'and the record says so')
  t.equal((await send(a.app, down)).code, 'auth.replayed', 'a replay to the same instance is refused')
  t.equal((await send(a.app, up)).code, 'auth.replayed', 'a token used while Redis was up is still refused here')

  const refusing: GatewayConfig = { ...config, gateway: { ...config.gateway, replay: { whenRedisDown: 'refuse' } } }
  b.app.gateway.replace(refusing)
  const refused = await send(b.app, down)
  t.equal(refused.status, 503, 'replay.whenRedisDown: refuse answers 503')
  t.equal(refused.code, 'gateway.unavailable')
  t.ok(Number(refused.retryAfter) >= 1, 'with Retry-After')

  await server.start()
  const probe = connectRedis({ url: server.url, commandTimeoutMs: 250 })
  t.teardown(() => { probe.disconnect() })
  await waitReady(probe, 5000)
  for (let i = 0; i < 50 && (await probe.dbsize()) === 0; i++) {
    // The next request through `a` once its connection is back writes the locally guarded jti to Redis.
    await send(a.app, await token())
    await sleep(100)
  }
  const jti = JSON.parse(Buffer.from(down.split('.')[1]!, 'base64url').toString()).jti as string
  t.equal(await probe.exists(`${prefix}jti:VN.LOC.DNG:${jti}`), 1, 'jtis guarded locally reach Redis once it is back')
  b.app.gateway.replace(config)
  t.equal((await send(b.app, down)).code, 'auth.replayed', 'so the other instance refuses them from then on')
})
