/**
 * The in-process copy of hot records (reuse.localMs) against what it could get wrong: two instances on one
 * real Redis, each with its copy. A notification on one instance reaches the other's copy at once; a copy
 * whose invalidation event was lost answers for `localMs` at most; a copy never answers past its record's
 * reuse window, nor for another mapping version. The registry is a counting loader.
 */
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import type { CanonicalRecord, RecordKey } from '../../adapters/contract.js'
import { Pseudonymizer } from '../../core/pseudonym.js'
import { RecordCipher } from '../../gateway/reuse/cipher.js'
import { RedisRecordStore } from '../../gateway/reuse/redis-store.js'
import { ReuseReader } from '../../gateway/reuse/reuse-reader.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'

const CIPHER = new RecordCipher([{ id: 'k1', key: randomBytes(32).toString('base64url') }])
const PSEUDO = new Pseudonymizer('hot-records-test-key')
const LOCAL_MS = 600

/** Two instances on one Redis, each with its own connection, store and copy. */
async function instances (t: Test): Promise<{ a: ReuseReader, b: ReuseReader, bStore: RedisRecordStore }> {
  const { prefix } = await testRedis(t)
  const make = (): { reader: ReuseReader, store: RedisRecordStore } => {
    const redis = new Redis(REDIS_URL)
    const store = new RedisRecordStore(redis, prefix)
    t.teardown(async () => { await store.close(); redis.disconnect() })
    const reader = new ReuseReader({
      store,
      cipher: CIPHER,
      pseudonymizer: PSEUDO,
      maxStaleSeconds: 0,
      waitTimeoutMs: 3000,
      hot: { maxAgeMs: LOCAL_MS, maxEntries: 100 },
    })
    return { reader, store }
  }
  const a = make()
  const b = make()
  await sleep(200) // both subscribed to the store's events
  return { a: a.reader, b: b.reader, bStore: b.store }
}

function registry (): { load: () => Promise<CanonicalRecord>, calls: () => number, set: (name: string) => void } {
  let calls = 0
  let fullName = 'Before'
  return {
    calls: () => calls,
    set: (name) => { fullName = name },
    load: async () => { calls++; return { personalId: '030075654294', fullName } },
  }
}

let n = 0
const keyOf = (): RecordKey => ({ service: 'population', kind: 'citizen', subject: `0300756542${++n}`, params: {} })
const policy = (ttlSeconds = 60, version = 'v1') => ({ ttlSeconds, loadTimeoutMs: 1000, version })

t.test('a hot record is answered from the copy: no registry call, the same record', async (t) => {
  const { a } = await instances(t)
  const reg = registry()
  const key = keyOf()
  t.equal((await a.read(key, policy(), reg.load))?.source, 'upstream')
  const again = await a.read(key, policy(), reg.load)
  t.match(again, { source: 'reuse', stale: false, record: { fullName: 'Before' } })
  t.equal(reg.calls(), 1)
})

t.test('a notification on one instance drops the other instance\'s copy at once', async (t) => {
  const { a, b } = await instances(t)
  const reg = registry()
  const key = keyOf()
  await a.read(key, policy(), reg.load)
  t.equal((await b.read(key, policy(), reg.load))?.source, 'reuse', 'B copied the kept record')
  reg.set('After')
  await a.invalidate('population', key.subject)
  await sleep(50) // the event's trip through Redis, far below localMs
  const fresh = await b.read(key, policy(), reg.load)
  t.match(fresh, { source: 'upstream', record: { fullName: 'After' } }, 'B asks the registry, not its copy')
  t.equal(reg.calls(), 2)
})

t.test('a purge of the whole service drops every copy of it on every instance', async (t) => {
  const { a, b } = await instances(t)
  const reg = registry()
  const keys = [keyOf(), keyOf()]
  for (const key of keys) { await a.read(key, policy(), reg.load); await b.read(key, policy(), reg.load) }
  await a.invalidate('population')
  await sleep(50)
  for (const key of keys) t.equal((await b.read(key, policy(), reg.load))?.source, 'upstream')
  t.equal(reg.calls(), 4)
})

t.test('a copy whose invalidation event was lost answers for localMs at most', async (t) => {
  const { a, b, bStore } = await instances(t)
  const reg = registry()
  const key = keyOf()
  await a.read(key, policy(), reg.load)
  await b.read(key, policy(), reg.load)
  // The store is invalidated without the event (as if it were lost on the way).
  await bStore.invalidate(a.indexOf(key.service, key.subject))
  reg.set('After')
  const started = Date.now()
  const within = await b.read(key, policy(), reg.load)
  t.match(within, { source: 'reuse', record: { fullName: 'Before' } }, 'within localMs: the copy')
  await sleep(LOCAL_MS + 50 - (Date.now() - started))
  t.match(await b.read(key, policy(), reg.load), { source: 'upstream', record: { fullName: 'After' } },
    'past localMs: the store, then the registry')
})

t.test('a copy never answers past its record\'s reuse window', async (t) => {
  const { a } = await instances(t)
  const reg = registry()
  const key = keyOf()
  const short = { ...policy(1), loadTimeoutMs: 1000 }
  await a.read(key, short, reg.load)
  t.equal((await a.read(key, short, reg.load))?.source, 'reuse')
  await sleep(1050)
  t.equal((await a.read(key, { ...short, ttlSeconds: 1 }, reg.load))?.source, 'upstream', 'the window is over')
  t.equal(reg.calls(), 2)
})

t.test('a copy made under one mapping version is never served under another', async (t) => {
  const { a } = await instances(t)
  const reg = registry()
  const key = keyOf()
  await a.read(key, policy(60, 'v1'), reg.load)
  t.equal((await a.read(key, policy(60, 'v2'), reg.load))?.source, 'upstream')
  t.equal(reg.calls(), 2)
})
