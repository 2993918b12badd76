/**
 * The platform's edges, with in-process gateways on a real Redis: an instance that missed the announcement
 * catches up from its heartbeat; an instance whose directory is invalid keeps serving and says so; a
 * silent instance leaves the listing; standalone, the platform is this instance; Redis away → 503.
 */
import t, { type Test } from 'tap'
import { appendFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig } from '../../gateway/config/load-config.js'
import { connectRedis, waitReady } from '../../gateway/process/redis.js'
import { composeGateway } from '../../gateway/compose.js'
import { standaloneServices } from '../../gateway/services.js'
import type { FastifyInstance } from 'fastify'
import { copyConfig, json, sharedSimulators, signedInject } from '../helpers/gateway.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'

const ADMIN = 'VN.NDXP.OPS'

/** A gateway on its own copy of the demo configuration, sharing Redis under `prefix`. */
async function instance (
  t: Test,
  prefix: string | null
): Promise<{ app: FastifyInstance; dir: string; redis: ReturnType<typeof connectRedis> | null }> {
  const sims = await sharedSimulators(t)
  const dir = await copyConfig(t)
  if (prefix !== null) await appendFile(join(dir, 'gateway.yaml'), `redis:\n  keyPrefix: "${prefix}"\n`)
  const redis = prefix === null ? null : connectRedis({ url: REDIS_URL, commandTimeoutMs: 500 })
  if (redis !== null) await waitReady(redis, 2000)
  const config = await loadConfig(dir, sims.env)
  const services = standaloneServices(config, { redis })
  const app = await composeGateway({ config, services, loadConfig: () => loadConfig(dir, sims.env) })
  t.teardown(async () => {
    await app.close()
    await services.close()
    redis?.disconnect()
  })
  await app.ready()
  return { app, dir, redis }
}

interface Listed { id: string, configDigest: string, lastReload: { result: string } | null }
const list = async (app: FastifyInstance): Promise<Listed[]> =>
  json(await signedInject(app, ADMIN, 'GET', '/v1/admin/instances')).instances as Listed[]

async function until (check: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now()
  while (!await check()) {
    if (Date.now() - started > ms) throw new Error('condition not met in time')
    await sleep(25)
  }
  return Date.now() - started
}

t.test('an instance that missed the announcement catches up from its heartbeat', async (t) => {
  const { redis, prefix } = await testRedis(t)
  const a = await instance(t, prefix)
  // Someone else reloaded, but the message never arrived: only the counter moved.
  await redis.incr(`${prefix}cluster:reloads`)
  const ms = await until(async () => (await list(a.app))[0]?.lastReload?.result === 'applied', 3000)
  t.ok(ms < 2000, `reloaded ${ms} ms later`)
})

t.test('a peer whose directory is invalid keeps serving its configuration and says "refused"', async (t) => {
  const { prefix } = await testRedis(t)
  const a = await instance(t, prefix)
  const b = await instance(t, prefix)
  await until(async () => (await list(a.app)).length === 2, 3000)
  const before = a.app.gateway.current().config.digest
  await writeFile(join(b.dir, 'agencies', 'VN.BROKEN.yaml'), 'id: [not an id]\n')
  await appendFile(join(a.dir, 'agencies', 'VN.LOC.DNG.yaml'), '# a comment changes the digest\n')
  const res = await signedInject(a.app, ADMIN, 'POST', '/v1/admin/reload')
  t.equal(res.statusCode, 200)
  await until(async () => (await list(a.app)).every((i) => i.lastReload !== null), 3000)
  const listed = await list(a.app)
  const results = Object.fromEntries(
    listed.map((i) => [i.configDigest === before ? 'old' : 'new', i.lastReload?.result])
  )
  t.same(results, { new: 'applied', old: 'refused' }, 'each instance reports what happened to it')
  t.equal(b.app.gateway.current().config.digest, before, 'the refusing instance keeps its configuration')
  t.equal(
    (await signedInject(b.app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')).statusCode,
    200,
    'and serves'
  )
})

t.test('an instance that stopped beating leaves the listing', async (t) => {
  const { redis, prefix } = await testRedis(t)
  const a = await instance(t, prefix)
  await redis.hset(
    `${prefix}cluster:instances`,
    'gone-1',
    JSON.stringify({
      id: 'gone-1',
      startedAt: '2026-01-01T00:00:00.000Z',
      version: '0',
      configDigest: 'x',
      lastReload: null,
      seenAt: Date.now() - 60_000,
    })
  )
  t.same((await list(a.app)).map((i) => i.id), [a.app.cluster.self().id])
  t.equal(await redis.hexists(`${prefix}cluster:instances`, 'gone-1'), 0, 'and its entry is removed')
  await a.app.close()
  t.equal(
    await redis.hexists(`${prefix}cluster:instances`, a.app.cluster.self().id),
    0,
    'a closing instance removes itself'
  )
})

t.test('standalone: the platform is this instance', async (t) => {
  const a = await instance(t, null)
  const [only] = await list(a.app)
  t.match(only, { id: String, version: String, configDigest: a.app.gateway.current().config.digest, lastReload: null })
  t.equal((await signedInject(a.app, ADMIN, 'POST', '/v1/admin/reload')).statusCode, 200)
  t.equal((await list(a.app))[0]?.lastReload?.result, 'applied')
  t.equal(
    json(await signedInject(a.app, 'VN.LOC.DNG', 'GET', '/v1/admin/instances')).code,
    'access.role',
    'admins only'
  )
  const purge = await signedInject(a.app, ADMIN, 'POST', '/v1/admin/purge', { body: { service: 'nope-service' } })
  t.match(json(purge), { code: 'request.invalid', errors: [{ name: 'service' }] }, 'an unknown service is refused')
  const bad = await signedInject(a.app, ADMIN, 'POST', '/v1/admin/purge', { body: { service: 'population', extra: 1 } })
  t.equal(json(bad).code, 'request.invalid', 'the body is checked against its schema')
})

t.test(
  'with Redis away, the listing is a 503 with Retry-After; a reload applies here and is announced once Redis is back',
  async (t) => {
    const { redis: probe, prefix } = await testRedis(t)
    const a = await instance(t, prefix)
    const redis = a.redis as NonNullable<typeof a.redis>
    redis.disconnect()
    const listing = await signedInject(a.app, ADMIN, 'GET', '/v1/admin/instances')
    t.equal(listing.statusCode, 503)
    t.equal(json(listing).code, 'gateway.unavailable')
    t.equal(listing.headers['retry-after'], '5')
    t.equal((await signedInject(a.app, ADMIN, 'POST', '/v1/admin/reload')).statusCode, 200, 'the reload applies here')
    t.equal(await probe.get(`${prefix}cluster:reloads`), null, 'but could not be announced yet')
    // Back (unless the client already started reconnecting by itself).
    if (redis.status === 'end' || redis.status === 'close') await redis.connect()
    await until(async () => (await probe.get(`${prefix}cluster:reloads`)) === '1', 3000)
    t.pass('announced by the heartbeat once Redis answered')
  }
)
