/**
 * The replay guard contract, run against both implementations (in-process and real Redis).
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileReplayJournal, persistentReplayGuard } from '../../gateway/auth/replay-journal.js'
import { MemoryReplayGuard, RedisReplayGuard, type ReplayGuard } from '../../gateway/auth/replay-guard.js'
import { connectRedis } from '../../gateway/process/redis.js'
import { testRedis } from '../helpers/redis.js'

async function conformance (t: Tap, make: () => Promise<ReplayGuard>): Promise<void> {
  t.test('a pair is new once, then refused', async (t) => {
    const guard = await make()
    t.teardown(() => guard.close())
    t.equal(await guard.remember('VN.A', 'jti-0000000000000001', 60), true)
    t.equal(await guard.remember('VN.A', 'jti-0000000000000001', 60), false)
    t.equal(await guard.remember('VN.A', 'jti-0000000000000001', 60), false)
  })
  t.test('the same jti under another iss is a different pair', async (t) => {
    const guard = await make()
    t.teardown(() => guard.close())
    t.equal(await guard.remember('VN.A', 'jti-0000000000000002', 60), true)
    t.equal(await guard.remember('VN.B', 'jti-0000000000000002', 60), true)
  })
  t.test('a pair is forgotten after its ttl', async (t) => {
    const guard = await make()
    t.teardown(() => guard.close())
    t.equal(await guard.remember('VN.A', 'jti-0000000000000003', 1), true)
    await sleep(1100)
    t.equal(await guard.remember('VN.A', 'jti-0000000000000003', 1), true)
  })
  t.test('concurrent uses of one pair: exactly one wins', async (t) => {
    const guard = await make()
    t.teardown(() => guard.close())
    const results = await Promise.all(
      Array.from({ length: 50 }, () => guard.remember('VN.A', 'jti-0000000000000004', 60))
    )
    t.equal(results.filter(Boolean).length, 1)
  })
}
type Tap = typeof t

t.test('in-process guard', (t) => conformance(t as unknown as Tap, async () => new MemoryReplayGuard()))

t.test('journalled in-process guard', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ndx-journal-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  let n = 0
  await conformance(t as unknown as Tap, async () => persistentReplayGuard(join(dir, String(n++))))

  t.test('a torn or foreign line is skipped; expired pairs are dropped at start', async (t) => {
    const at = join(dir, 'torn')
    await mkdir(at)
    const now = Date.now()
    const lines = [`${now + 60_000}\tVN.A\tjti-kept-000000000001`, `${now - 1}\tVN.A\tjti-gone-000000000001`]
    lines.push('nonsense')
    await writeFile(join(at, 'jti.log'), `${lines.join('\n')}\n${now + 60_000}\tVN.A\tjti-tor`)
    const guard = persistentReplayGuard(at)
    t.teardown(() => guard.close())
    t.equal(guard.size, 2)
    t.notMatch(await readFile(join(at, 'jti.log'), 'utf8'), /nonsense|jti-gone/, 'rewritten without them')
    t.equal(await guard.remember('VN.A', 'jti-kept-000000000001', 60), false)
    t.equal(await guard.remember('VN.A', 'jti-gone-000000000001', 60), true)
  })

  t.test('the journal is compacted once expired lines outnumber live ones, keeping new lines', async (t) => {
    const at = join(dir, 'compact')
    const { journal, entries } = FileReplayJournal.open(at)
    const guard = new MemoryReplayGuard(60_000, journal, entries)
    t.teardown(() => guard.close())
    const now = Date.now()
    for (let i = 0; i < 10_050; i++) guard.rememberSync('VN.A', `jti-short-${String(i).padStart(12, '0')}`, 1, now)
    guard.rememberSync('VN.A', 'jti-long-0000000000001', 600, now)
    guard.sweep(now + 2000)
    guard.rememberSync('VN.A', 'jti-during-00000000001', 600)
    await journal.idle()
    const lines = (await readFile(join(at, 'jti.log'), 'utf8')).split('\n').filter(Boolean)
    t.equal(lines.length, 2, 'only the live pairs are left')
    t.match(lines[1], /jti-during/, 'a pair remembered while the snapshot was written is kept')
    guard.rememberSync('VN.A', 'jti-after-000000000001', 600)
    const after = (await readFile(join(at, 'jti.log'), 'utf8')).split('\n').filter(Boolean)
    t.equal(after.length, 3, 'and appending goes on')
    await guard.close()
    const reopened = persistentReplayGuard(at)
    t.teardown(() => reopened.close())
    t.equal(reopened.size, 3, 'a restart reads them all back')
  })

  t.test('a journal that cannot be written refuses with 503 rather than forgetting', async (t) => {
    const guard = new MemoryReplayGuard(10_000, { add () { throw new Error('ENOSPC') }, compact () {}, close () {} })
    t.teardown(() => guard.close())
    await t.rejects(guard.remember('VN.A', 'jti-nospace-000000001', 60), { code: 'gateway.unavailable', status: 503 })
    t.equal(guard.size, 0)
  })
})

t.test('Redis guard', async (t) => {
  const { redis, prefix } = await testRedis(t)
  await conformance(t as unknown as Tap, async () => new RedisReplayGuard(redis, prefix))

  t.test('instances sharing one Redis refuse each other\'s replays', async (t) => {
    const a = new RedisReplayGuard(redis, prefix)
    const other = new Redis(redis.options)
    t.teardown(() => { other.disconnect() })
    const b = new RedisReplayGuard(other, prefix)
    t.equal(await a.remember('VN.A', 'jti-shared-00000000001', 60), true)
    t.equal(await b.remember('VN.A', 'jti-shared-00000000001', 60), false)
    t.ok(await redis.exists(`${prefix}jti:VN.A:jti-shared-00000000001`), 'kept under the run prefix')
    const ttl = await redis.ttl(`${prefix}jti:VN.A:jti-shared-00000000001`)
    t.ok(ttl > 0 && ttl <= 60, 'with an expiry')
  })

  t.test('while Redis does not answer, the guard still refuses replays to this instance', async (t) => {
    const dead = connectRedis({ url: 'redis://127.0.0.1:1/0', commandTimeoutMs: 50 })
    t.teardown(() => { dead.disconnect() })
    let degraded = 0
    const guard = new RedisReplayGuard(dead, prefix, () => { degraded++ })
    t.equal(await guard.remember('VN.A', 'jti-offline-000000001', 60), true, 'first use is served')
    t.equal(await guard.remember('VN.A', 'jti-offline-000000001', 60), false, 'replay refused from local memory')
    t.equal(await guard.remember('VN.A', 'jti-offline-000000002', 60), true)
    t.equal(degraded, 1, 'the outage was reported once, not per request')
  })
})
