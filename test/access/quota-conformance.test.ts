/**
 * The quota contract (gateway/access/quota.ts), run against both implementations: in process, and two
 * limiters sharing one real Redis. The clock is the test's (`now`), so windows are exact and instant.
 */
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { MemoryQuota, RedisQuota, type QuotaLimiter } from '../../gateway/access/quota.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'

/** The start of a minute, far from any real one. */
const MINUTE = 1_800_000_000_000 - (1_800_000_000_000 % 60_000)

/** Two limiters over one count (for the in-process quota, one limiter twice). */
type Make = (t: Test) => Promise<{ a: QuotaLimiter, b: QuotaLimiter }>

async function allowedOf (takes: Array<Promise<{ allowed: boolean }>>): Promise<boolean[]> {
  return (await Promise.all(takes)).map((d) => d.allowed)
}

function conformance (t: Test, make: Make): void {
  t.test('a key is allowed perMinute requests in a minute, then refused', async (t) => {
    const { a, b } = await make(t)
    const seen: boolean[] = []
    for (let i = 0; i < 7; i++) seen.push((await (i % 2 === 0 ? a : b).take('VN.A', 5, MINUTE + 1000 + i)).allowed)
    t.same(seen, [true, true, true, true, true, false, false])
  })

  t.test('retryAfterSeconds is the time left in the minute: the key is allowed again right then', async (t) => {
    const { a } = await make(t)
    const now = MINUTE + 40_500
    t.same(await a.take('VN.A', 1, now), { allowed: true, retryAfterSeconds: 20 }, 'given on every decision')
    const refused = await a.take('VN.A', 1, now)
    t.same(refused, { allowed: false, retryAfterSeconds: 20 }, '19.5 s left, rounded up')
    t.equal((await a.take('VN.A', 1, now + (refused.retryAfterSeconds - 1) * 1000)).allowed, false,
      'a second earlier is still the same minute')
    t.same(await a.take('VN.A', 1, now + refused.retryAfterSeconds * 1000), { allowed: true, retryAfterSeconds: 60 },
      'allowed once it has passed, in a minute of its own')
    t.equal((await a.take('VN.B', 1, MINUTE)).retryAfterSeconds, 60, 'at most 60')
    t.equal((await a.take('VN.B', 1, MINUTE + 59_999)).retryAfterSeconds, 1, 'at least 1, never 0')
  })

  t.test('keys are counted apart, each against its own limit', async (t) => {
    const { a, b } = await make(t)
    t.same(await allowedOf([1, 2, 3].map((i) => a.take('VN.A', 2, MINUTE + i))), [true, true, false])
    t.same(await allowedOf([1, 2, 3, 4].map((i) => b.take('VN.B', 3, MINUTE + i))), [true, true, true, false],
      'another key has its whole allowance')
    t.equal((await a.take('anon:x', 1, MINUTE + 5)).allowed, true, 'and so has an address\'s pseudonym')
  })

  t.test('the count starts again at each minute', async (t) => {
    const { a, b } = await make(t)
    t.same(await allowedOf([0, 1, 2].map(() => a.take('VN.A', 2, MINUTE + 59_999))), [true, true, false])
    t.same(await allowedOf([0, 1, 2].map(() => b.take('VN.A', 2, MINUTE + 60_000))), [true, true, false],
      'the next minute has the whole allowance again, and no more')
  })

  t.test('concurrent takes never admit more than the limit, from every limiter sharing the count', async (t) => {
    const { a, b } = await make(t)
    const takes = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).take('VN.A', 17, MINUTE + 30_000))
    const allowed = await allowedOf(takes)
    t.equal(allowed.filter(Boolean).length, 17)
  })
}

t.test('in-process quota', async (t) => {
  conformance(t, async (t) => {
    const quota = new MemoryQuota()
    t.teardown(() => quota.close())
    return { a: quota, b: quota }
  })
})

t.test('Redis quota', async (t) => {
  const make: Make = async (t) => {
    const { prefix } = await testRedis(t)
    const clients = [new Redis(REDIS_URL), new Redis(REDIS_URL)]
    t.teardown(() => { for (const c of clients) c.disconnect() })
    const [a, b] = clients.map((c) => new RedisQuota(c, prefix)) as [RedisQuota, RedisQuota]
    t.teardown(async () => { await a.close(); await b.close() })
    return { a, b }
  }
  conformance(t, make)

  t.test('a count lives under the prefix, for its minute, and expires soon after it', async (t) => {
    const { redis, prefix } = await testRedis(t)
    const quota = new RedisQuota(redis, prefix)
    await quota.take('VN.A', 5, MINUTE + 1)
    const key = `${prefix}quota:VN.A:${MINUTE / 60_000}`
    t.same(await redis.keys(`${prefix}*`), [key])
    t.equal(await redis.get(key), '1')
    const ttl = await redis.pttl(key)
    t.ok(ttl > 60_000 && ttl <= 65_000, `expires with a few seconds to spare: ${ttl} ms`)
  })

  t.test('close leaves the connection it was given open', async (t) => {
    const { redis, prefix } = await testRedis(t)
    const quota = new RedisQuota(redis, prefix)
    await quota.take('VN.A', 5, MINUTE)
    await quota.close()
    t.equal(await redis.ping(), 'PONG')
    t.equal(redis.status, 'ready')
  })
})
