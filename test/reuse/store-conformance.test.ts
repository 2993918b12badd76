/**
 * The record store contract, run against both implementations: in-process and real Redis.
 */
import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { RedisRecordStore } from '../../gateway/reuse/redis-store.js'
import { MemoryRecordStore, type RecordStore, type StoreEvent } from '../../gateway/reuse/store.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'

function conformance (t: Test, make: () => Promise<{ a: RecordStore, b: RecordStore }>): void {
  t.test('values are kept until they expire', async (t) => {
    const { a, b } = await make()
    t.equal(await a.get('i1:r1'), null)
    t.equal(await a.set('i1:r1', Buffer.from('sealed'), 300, await a.generation('i1')), true)
    t.same(await b.get('i1:r1'), Buffer.from('sealed'), 'visible to every instance')
    await sleep(350)
    t.equal(await a.get('i1:r1'), null, 'gone after its ttl')
  })

  t.test('invalidate drops every record of an index and counts them', async (t) => {
    const { a, b } = await make()
    const g = await a.generation('i2')
    await a.set('i2:citizen', Buffer.from('1'), 10_000, g)
    await a.set('i2:events', Buffer.from('2'), 10_000, g)
    await a.set('i3:citizen', Buffer.from('3'), 10_000, await a.generation('i3'))
    t.equal(await b.invalidate('i2'), 2)
    t.equal(await a.get('i2:citizen'), null)
    t.equal(await a.get('i2:events'), null)
    t.same(await a.get('i3:citizen'), Buffer.from('3'), 'other subjects untouched')
    t.equal(await a.invalidate('i2'), 0, 'nothing left to drop')
  })

  t.test('invalidatePrefix drops every index of a service, and only those', async (t) => {
    const { a, b } = await make()
    await a.set('svcA.s1:citizen', Buffer.from('1'), 10_000, await a.generation('svcA.s1'))
    await a.set('svcA.s2:citizen', Buffer.from('2'), 10_000, await a.generation('svcA.s2'))
    await a.set('svcA.s2:events', Buffer.from('3'), 10_000, await a.generation('svcA.s2'))
    await a.set('svcB.s1:citizen', Buffer.from('4'), 10_000, await a.generation('svcB.s1'))
    const before = await a.generation('svcA.s1')
    t.equal(await b.invalidatePrefix('svcA.'), 3)
    t.equal(await a.get('svcA.s1:citizen'), null)
    t.equal(await a.get('svcA.s2:events'), null)
    t.same(await a.get('svcB.s1:citizen'), Buffer.from('4'), 'another service untouched')
    t.equal(
      await a.set('svcA.s1:citizen', Buffer.from('stale'), 10_000, before),
      false,
      'a load begun before cannot write after'
    )
    t.equal(await b.invalidatePrefix('svcA.'), 0, 'nothing left to drop')
  })

  t.test('a load that began before an invalidation cannot write after it', async (t) => {
    const { a, b } = await make()
    const before = await a.generation('i4')
    await b.invalidate('i4')
    t.equal(await a.set('i4:citizen', Buffer.from('stale'), 10_000, before), false)
    t.equal(await a.get('i4:citizen'), null)
    t.equal(await a.set('i4:citizen', Buffer.from('fresh'), 10_000, await a.generation('i4')), true)
  })

  t.test('locks are exclusive, released only by their holder, and expire', async (t) => {
    const { a, b } = await make()
    const token = await a.lock('i5:r', 300)
    t.type(token, 'string')
    t.equal(await b.lock('i5:r', 300), null, 'held: another instance cannot take it')
    await b.unlock('i5:r', 'not-the-token')
    t.equal(await b.lock('i5:r', 300), null, 'a wrong token does not release')
    await a.unlock('i5:r', token as string)
    t.type(await b.lock('i5:r', 100), 'string', 'released by its holder: the other instance takes it')
    await sleep(150)
    t.type(await a.lock('i5:r', 100), 'string', 'an expired lock can be taken')
  })

  t.test('a load\'s outcome is kept beside its lock for a while, for whoever takes the lock next', async (t) => {
    const { a, b } = await make()
    t.same(await b.getWithLastLoad('i8:r'), { value: null, lastLoad: null })
    const token = await a.lock('i8:r', 1000) as string
    await a.unlock('i8:r', token, { event: { type: 'failed', key: 'i8:r', code: 'upstream.timeout' }, keepMs: 300 })
    const taken = await b.lock('i8:r', 1000)
    t.type(taken, 'string', 'the lock is released in the same step')
    await b.unlock('i8:r', taken as string)
    const last = { id: token, event: { type: 'failed', key: 'i8:r', code: 'upstream.timeout' } }
    t.same(await b.lastLoad('i8:r'), last, 'visible to every instance, named by the load\'s lock token')
    await a.set('i8:r', Buffer.from('v'), 10_000, await a.generation('i8'))
    t.same(await b.getWithLastLoad('i8:r'), { value: Buffer.from('v'), lastLoad: last }, 'read with the value')
    const next = await b.lock('i8:r', 1000) as string
    t.not(next, token, 'every load has its own id')
    await b.unlock('i8:r', next)
    t.same(await a.lastLoad('i8:r'), last, 'a release without an outcome leaves the last one')
    t.equal(await a.lastLoad('i8:other'), null, 'per record')
    await sleep(350)
    t.equal(await a.lastLoad('i8:r'), null, 'gone after its keepMs')
  })

  t.test('events reach every instance', async (t) => {
    const { a, b } = await make()
    const seen: StoreEvent[] = []
    b.subscribe((e) => seen.push(e))
    await sleep(50)
    await a.publish({ type: 'done', key: 'i6:r' })
    await a.publish({ type: 'failed', key: 'i6:r', code: 'upstream.timeout' })
    for (let i = 0; i < 20 && seen.length < 2; i++) await sleep(25)
    t.same(seen, [{ type: 'done', key: 'i6:r' }, { type: 'failed', key: 'i6:r', code: 'upstream.timeout' }])
  })
}

t.test('in-process store', async (t) => {
  conformance(t, async () => {
    const store = new MemoryRecordStore()
    return { a: store, b: store }
  })
  t.test('it stays within its size bound, dropping the oldest', async (t) => {
    const store = new MemoryRecordStore(3)
    for (const k of ['i:a', 'i:b', 'i:c', 'i:d']) await store.set(k, Buffer.from(k), 10_000, '0')
    t.equal(store.size, 3)
    t.equal(await store.get('i:a'), null)
    t.same(await store.get('i:d'), Buffer.from('i:d'))
  })
})

t.test('Redis store', async (t) => {
  const { prefix } = await testRedis(t)
  const clients: Redis[] = []
  const stores: RecordStore[] = []
  t.teardown(async () => {
    for (const s of stores) await s.close()
    for (const c of clients) c.disconnect()
  })
  conformance(t, async () => {
    const [ra, rb] = [new Redis(REDIS_URL), new Redis(REDIS_URL)]
    clients.push(ra, rb)
    const pair = { a: new RedisRecordStore(ra, prefix), b: new RedisRecordStore(rb, prefix) }
    stores.push(pair.a, pair.b)
    return pair
  })
  t.test('a subject\'s keys share one hash tag (one Cluster slot)', async (t) => {
    const r = new Redis(REDIS_URL)
    clients.push(r)
    const store = new RedisRecordStore(r, prefix)
    stores.push(store)
    await store.set('idx7:rec', Buffer.from('x'), 10_000, await store.generation('idx7'))
    const token = await store.lock('idx7:rec', 10_000) as string
    await store.unlock('idx7:rec', token, { event: { type: 'done', key: 'idx7:rec' }, keepMs: 10_000 })
    const keys = await r.keys(`${prefix}reuse:*{idx7}*`)
    t.same(keys.sort(), [`${prefix}reuse:i:{idx7}`, `${prefix}reuse:o:{idx7}:rec`, `${prefix}reuse:r:{idx7}:rec`])
  })
})
