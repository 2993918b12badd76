/**
 * The verify endpoint as an oracle (issue 10, item 5; CONTRACT §5 v1.1): guessing a date of birth one
 * claim at a time, against two instances sharing a real Redis, gets at most the budget's worth of answers.
 */
import t from 'tap'
import { appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../gateway/config/load-config.js'
import { MemoryVerifyBudget, RedisVerifyBudget } from '../../gateway/access/verify-budget.js'
import { connectRedis, waitReady } from '../../gateway/process/redis.js'
import { standaloneServices } from '../../gateway/services.js'
import {
  buildTestGateway, copyConfig, json, sharedSimulators, signedInject, type TestGateway,
} from '../helpers/gateway.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { Redis } from 'ioredis'

const ID = '030075654294'
const VERIFY = `/v1/population/citizens/${ID}/verify`
const TRUE_DOB = '1975-08-14'

/** Every day of 1975 (digits 4–6 of the id give the birth year), the true one far down the list. */
function guesses (): string[] {
  const days: string[] = []
  for (let d = Date.UTC(1975, 0, 1); d < Date.UTC(1976, 0, 1); d += 86_400_000) {
    days.push(new Date(d).toISOString().slice(0, 10))
  }
  return days
}

interface Pair { a: TestGateway, b: TestGateway, redis: Redis, prefix: string }

async function twoInstances (t: Tap, max?: number): Promise<Pair> {
  const { redis, prefix } = await testRedis(t)
  const sims = await sharedSimulators(t)
  const dir = await copyConfig(t)
  const verify = max === undefined ? '' : `verify:\n  maxFailedPerSubjectPerDay: ${max}\n`
  await appendFile(join(dir, 'gateway.yaml'), `redis:\n  keyPrefix: "${prefix}"\n${verify}`)
  const config = await loadConfig(dir, sims.env)
  const make = async (): Promise<TestGateway> => {
    const conn = connectRedis({ url: REDIS_URL, commandTimeoutMs: 1000 })
    t.teardown(() => { conn.disconnect() })
    await waitReady(conn, 2000)
    return buildTestGateway(t, { config, services: standaloneServices(config, { redis: conn }) })
  }
  return { a: await make(), b: await make(), redis, prefix }
}
type Tap = typeof t

const verify = (gw: TestGateway, body: Record<string, unknown>, agency = 'VN.EVN.HCMC') =>
  signedInject(gw.app, agency, 'POST', VERIFY, {
    body, purpose: agency === 'VN.EVN.HCMC' ? 'customer-verification' : 'social-insurance',
  })

t.test('365 dateOfBirth guesses in parallel over two instances get 5 answers, none of them the date', async (t) => {
  const { a, b, redis, prefix } = await twoInstances(t as unknown as Tap)
  const all = guesses()
  t.equal(all.length, 365)
  const replies = await Promise.all(all.map((dateOfBirth, i) => verify(i % 2 === 0 ? a : b, { dateOfBirth })))
  const answered = replies.filter((r) => r.statusCode === 200)
  const refused = replies.filter((r) => r.statusCode === 429)
  t.equal(answered.length, 5, 'the default budget: 5 failed verifications per subject per day')
  t.equal(refused.length, 360)
  const matched = (r: Awaited<ReturnType<typeof verify>>): boolean => (json(r).data as { match: boolean }).match
  t.ok(answered.every((r) => !matched(r)), 'the five answered were wrong guesses')
  const truth = replies[all.indexOf(TRUE_DOB)]!
  t.equal(truth.statusCode, 429, 'the true date is refused like any other guess')
  t.equal(json(truth).code, 'quota.exceeded')
  const retry = Number(truth.headers['retry-after'])
  t.ok(retry >= 1 && retry <= 86_400, `Retry-After ${retry} s (the day's end)`)
  const refusals = [...a.sink.records, ...b.sink.records]
    .filter((r) => r.client === 'VN.EVN.HCMC' && r.code === 'quota.exceeded' && r.status === 429)
  t.equal(refusals.length, 360, 'refusals are recorded')

  const keys = await redis.keys(`${prefix}vbudget:*`)
  t.equal(keys.length, 1, 'one count for the agency and subject, shared by both instances')
  t.notOk(keys.some((k) => k.includes(ID)), 'the key holds a pseudonym, not the personal id')
  const metrics = (await a.app.inject({ url: '/metrics' })).body + (await b.app.inject({ url: '/metrics' })).body
  const exhausted = [...metrics.matchAll(/^ndx_verify_budget_exhausted_total (\d+)$/gm)]
    .reduce((n, m) => n + Number(m[1]), 0)
  t.equal(exhausted, 360, 'every refusal counted in ndx_verify_budget_exhausted_total')

  const other = await verify(b, { dateOfBirth: TRUE_DOB }, 'VN.BHXH')
  t.equal(other.statusCode, 200, 'another agency has its own budget')
  t.equal((json(other).data as { match: boolean }).match, true)
  const citizen = await signedInject(a.app, 'VN.EVN.HCMC', 'GET', `/v1/population/citizens/${ID}`, {
    purpose: 'customer-verification',
  })
  t.not(citizen.statusCode, 429, 'other operations are not touched by the budget')
})

t.test('verifications that match cost nothing; the budget counts failures only', async (t) => {
  const { a, b } = await twoInstances(t as unknown as Tap, 2)
  for (const gw of [a, b, a, b, a]) {
    const res = await verify(gw, { dateOfBirth: TRUE_DOB, fullName: 'Dương Đức Việt' })
    t.equal((json(res).data as { match: boolean }).match, true)
  }
  t.equal((await verify(a, { dateOfBirth: '1975-01-01' })).statusCode, 200, 'first failure')
  t.equal((await verify(b, { dateOfBirth: TRUE_DOB })).statusCode, 200, 'a match in between')
  t.equal((await verify(b, { dateOfBirth: '1975-01-02' })).statusCode, 200, 'second failure')
  const after = await verify(a, { dateOfBirth: TRUE_DOB })
  t.equal(after.statusCode, 429, 'past the budget even a true claim is refused: refusals do not depend on the answer')
})

t.test('the budget stores: a day window, refunds, and Redis fallback', async (t) => {
  const day = 1_800_000_000_000 - (1_800_000_000_000 % 86_400_000)
  const mem = new MemoryVerifyBudget()
  t.same(await mem.take('k', 1, day + 1000), { allowed: true, retryAfterSeconds: 86_399 })
  await mem.refund('k', day + 1000)
  t.equal((await mem.take('k', 1, day + 2000)).allowed, true, 'a refunded slot is free again')
  t.equal((await mem.take('k', 1, day + 3000)).allowed, false)
  await mem.refund('k', day - 1)
  t.equal((await mem.take('k', 1, day + 86_400_000)).allowed, true, 'a new day')
  const dead = new Redis('redis://127.0.0.1:1/0', {
    lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0,
  })
  t.teardown(() => { dead.disconnect() })
  const fallback = new RedisVerifyBudget(dead, 'x:')
  t.equal((await fallback.take('k', 1, day)).allowed, true)
  await fallback.refund('k', day)
  t.equal((await fallback.take('k', 1, day)).allowed, true, 'counted (and refunded) locally while Redis is away')
  t.equal((await fallback.take('k', 1, day)).allowed, false)
  const { redis, prefix } = await testRedis(t)
  const live = new RedisVerifyBudget(redis, prefix)
  await live.refund('never-taken', Date.now())
  t.equal((await redis.keys(`${prefix}vbudget:*`)).length, 0, 'a refund never creates a count without an expiry')
  await live.take('k', 1)
  const [key] = await redis.keys(`${prefix}vbudget:*`)
  const ttl = await redis.pttl(key!)
  t.ok(ttl > 0 && ttl <= 86_400_000 + 60_000, 'counts expire after their day')
})
