/**
 * Quotas: per-agency requests per minute, one count across instances through Redis, 429 with Retry-After.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig } from '../../gateway/config/load-config.js'
import { MemoryQuota, RedisQuota } from '../../gateway/access/quota.js'
import { standaloneServices } from '../../gateway/services.js'
import { buildTestGateway, copyConfig, json, sharedSimulators, signedInject } from '../helpers/gateway.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { Redis } from 'ioredis'
import { baseClaims, unsigned } from '../helpers/tokens.js'

/** Fixed windows: keep a test's calls inside one minute. */
async function awayFromMinuteEdge (): Promise<void> {
  const into = Date.now() % 60_000
  if (into > 50_000) await sleep(60_000 - into + 200)
}

t.test('a quota holds across two instances', async (t) => {
  const { prefix } = await testRedis(t)
  const sims = await sharedSimulators(t)
  const dir = await copyConfig(t)
  const file = join(dir, 'agencies', 'VN.EVN.HCMC.yaml')
  await writeFile(file, (await readFile(file, 'utf8')).replace('perMinute: 600', 'perMinute: 5'))
  await appendFile(join(dir, 'gateway.yaml'), `redis:\n  keyPrefix: "${prefix}"\n`)
  const config = await loadConfig(dir, sims.env)
  const clients = [new Redis(REDIS_URL), new Redis(REDIS_URL)]
  t.teardown(() => { for (const c of clients) c.disconnect() })
  const [a, b] = await Promise.all(
    clients.map((r) =>
      buildTestGateway(t, { config, services: standaloneServices(config, { quota: new RedisQuota(r, prefix) }) })
    )
  )
  await awayFromMinuteEdge()
  const call = (gw: typeof a) =>
    signedInject(gw!.app, 'VN.EVN.HCMC', 'GET', '/v1/business-registry/enterprises/2627349851')
  const statuses = []
  for (const gw of [a, b, a, b, a]) statuses.push((await call(gw)).statusCode)
  t.same(statuses, [200, 200, 200, 200, 200])
  const refused = await call(b)
  t.equal(refused.statusCode, 429)
  t.equal(json(refused).code, 'quota.exceeded')
  const retry = Number(refused.headers['retry-after'])
  t.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`)
  t.equal((await call(a)).statusCode, 429, 'on the other instance too')
  t.equal(
    (await signedInject(a!.app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')).statusCode,
    200,
    'other agencies are not affected'
  )
  t.match(b!.sink.records.at(-1), { client: 'VN.EVN.HCMC', status: 429, outcome: 'rejected', code: 'quota.exceeded' })
})

t.test('the limiters: windows and Redis fallback', async (t) => {
  const mem = new MemoryQuota()
  const minute = 1_800_000_000_000 - (1_800_000_000_000 % 60_000)
  t.same(await mem.take('A', 2, minute + 1000), { allowed: true, retryAfterSeconds: 59 })
  t.same(await mem.take('A', 2, minute + 2000), { allowed: true, retryAfterSeconds: 58 })
  t.same(await mem.take('A', 2, minute + 59_500), { allowed: false, retryAfterSeconds: 1 })
  t.same(await mem.take('A', 2, minute + 60_000), { allowed: true, retryAfterSeconds: 60 }, 'a new window')
  const dead = new Redis('redis://127.0.0.1:1/0', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  t.teardown(() => { dead.disconnect() })
  const fallback = new RedisQuota(dead, 'x:')
  t.same(await fallback.take('A', 1, minute), { allowed: true, retryAfterSeconds: 60 })
  t.same(
    await fallback.take('A', 1, minute + 1),
    { allowed: false, retryAfterSeconds: 60 },
    'counted locally while Redis is away'
  )
})

t.test('forged tokens from one address are bounded across two instances; verified ones are not counted', async (t) => {
  const { redis, prefix } = await testRedis(t)
  const sims = await sharedSimulators(t)
  const dir = await copyConfig(t)
  await appendFile(join(dir, 'gateway.yaml'), `redis:\n  keyPrefix: "${prefix}"\n`)
  await appendFile(join(dir, 'gateway.yaml'), 'quota:\n  unauthenticatedPerMinute: 5\n')
  const config = await loadConfig(dir, sims.env)
  t.equal(config.gateway.quota.unauthenticatedPerMinute, 5)
  const clients = [new Redis(REDIS_URL), new Redis(REDIS_URL)]
  t.teardown(() => { for (const c of clients) c.disconnect() })
  const [a, b] = await Promise.all(clients.map((r) =>
    buildTestGateway(t, { config, services: standaloneServices(config, { quota: new RedisQuota(r, prefix) }) })))
  await awayFromMinuteEdge()
  const target = '/v1/business-registry/enterprises/2627349851'
  const header = { alg: 'ES256', kid: 'dng-2026-01', typ: 'ndx+jwt' }
  const forgedToken = `${unsigned(header, baseClaims('VN.LOC.DNG', 'GET', target))}x`
  const forged = (gw: typeof a, remoteAddress = '127.0.0.1') => gw!.app.inject({
    method: 'GET',
    url: target,
    remoteAddress,
    headers: { authorization: `Bearer ${forgedToken}` },
  })
  // inject's default source address is 127.0.0.1, as for the forged ones
  const verified = (gw: typeof a) => signedInject(gw!.app, 'VN.LOC.DNG', 'GET', target)

  const codes: string[] = []
  for (const gw of [a, b, a, b, a]) codes.push(json(await forged(gw)).code as string)
  t.ok(codes.every((c) => c.startsWith('auth.')), `the first five are refused as what they are: ${codes.join(', ')}`)
  const counted = async (): Promise<number> => {
    const keys = await redis.keys(`${prefix}quota:anon:*`)
    return keys.length === 1 ? Number(await redis.get(keys[0]!)) : -1
  }
  t.equal(await counted(), 5, 'one count in Redis for the address (its key holds a hash, not the address)')
  t.notOk((await redis.keys(`${prefix}*127.0.0.1*`)).length, 'no raw address in key names')
  // Nor a bare hash of it, which anyone reverses by hashing all 2^32 IPv4 addresses: a keyed pseudonym.
  const bare = createHash('sha256').update('127.0.0.1').digest('base64url').slice(0, 22)
  t.notOk((await redis.keys(`${prefix}*${bare}*`)).length, 'no unkeyed hash of the address either')

  for (const gw of [a, b, a]) t.equal((await verified(gw)).statusCode, 200, 'a verified request from there is served')
  t.equal(await counted(), 5, 'and not counted')

  const refused = await forged(b)
  t.equal(refused.statusCode, 429)
  t.equal(json(refused).code, 'quota.exceeded')
  const retry = Number(refused.headers['retry-after'])
  t.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`)
  t.equal((await forged(a)).statusCode, 429, 'on the other instance too')
  t.match(a!.sink.records.at(-1), { status: 429, outcome: 'rejected', code: 'quota.exceeded' }, 'recorded')
  t.equal((await forged(a, '192.0.2.8')).statusCode, 401, 'another address is not affected')
  t.equal((await verified(a)).statusCode, 200, 'verified requests still pass')
  const metrics = (await a!.app.inject({ url: '/metrics' })).body
  t.match(metrics, /^ndx_unauthenticated_refusals_total 1$/m, 'counted in a metric')
})
