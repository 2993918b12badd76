/**
 * Provide once (CONTRACT §6), the race between two instances: B finds nothing kept, then, before B asks for
 * the record's lock, A loads the record and releases the lock. B must not call the registry again: A's
 * outcome (the record, "no such record", or a failure) is B's answer too. Also the waiter's side: an
 * outcome announced while B is between its failed lock attempt and its wait is not missed.
 *
 * The interleaving is forced, not hoped for: B's store holds every call after B's first read until A is done.
 * Run on the in-process store (two readers on one store) and on real Redis (two connections).
 */
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { CanonicalRecord, RecordKey } from '../../adapters/contract.js'
import type { LoadedRecord } from '../../gateway/reuse/reader.js'
import { problem } from '../../core/errors.js'
import { Pseudonymizer } from '../../core/pseudonym.js'
import { RecordCipher } from '../../gateway/reuse/cipher.js'
import { RedisRecordStore } from '../../gateway/reuse/redis-store.js'
import { ReuseReader } from '../../gateway/reuse/reuse-reader.js'
import { MemoryRecordStore, type RecordStore } from '../../gateway/reuse/store.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'

const CIPHER = new RecordCipher([{ id: 'k1', key: randomBytes(32).toString('base64url') }])
const PSEUDO = new Pseudonymizer('load-race-test-key')
const POLICY = { ttlSeconds: 60, loadTimeoutMs: 1000 }

function reader (store: RecordStore): ReuseReader {
  return new ReuseReader({ store, cipher: CIPHER, pseudonymizer: PSEUDO, maxStaleSeconds: 0, waitTimeoutMs: 3000 })
}

/**
 * A store that runs `pause` (once) before handing the reader the answer to a call `when` picks: the reader
 * is stopped at that point while the other instance acts. Calls are passed on in the order they are made,
 * so Redis still receives them in that order.
 */
function pausing (
  store: RecordStore, when: (method: string, result: unknown) => boolean, pause: () => Promise<void>
): RecordStore {
  let paused = false
  return new Proxy(store, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown
      if (typeof value !== 'function') return value
      const fn = value as (...args: unknown[]) => unknown
      if (prop === 'subscribe' || prop === 'close') return fn.bind(target)
      return async (...args: unknown[]) => {
        const result = await fn.apply(target, args)
        if (!paused && when(String(prop), result)) {
          paused = true
          await pause()
        }
        return result
      }
    },
  })
}

const RECORD: CanonicalRecord = { personalId: '030075654294', fullName: 'A' }
let n = 0
const keyOf = (): RecordKey => ({ service: 'population', kind: 'citizen', subject: `s${++n}`, params: {} })

type Outcome = 'done' | 'absent' | 'failed'
function loader (outcome: Outcome): { load: () => Promise<CanonicalRecord | null>, calls: () => number } {
  let calls = 0
  return {
    calls: () => calls,
    load: async () => {
      calls++
      if (outcome === 'failed') throw problem('upstream.unavailable', 'down')
      return outcome === 'absent' ? null : RECORD
    },
  }
}

const settle = (p: Promise<LoadedRecord | null>): Promise<{ value?: LoadedRecord | null, code?: string }> =>
  p.then((value) => ({ value }), (err: { code?: string }) => ({ code: err.code }))

function races (t: Test, pair: () => Promise<{ a: RecordStore, b: RecordStore }>): void {
  for (const outcome of ['done', 'absent', 'failed'] as const) {
    t.test(`A loads (${outcome}) between B's read and B's lock: one registry call`, async (t) => {
      const { a, b } = await pair()
      const key = keyOf()
      const { load, calls } = loader(outcome)
      const ra = reader(a)
      let first: { value?: LoadedRecord | null, code?: string } = {}
      // B has read the store (nothing kept) and not yet asked for the lock: A reads, loads, keeps, releases.
      const rb = reader(pausing(b, (method) => method.startsWith('get'), async () => {
        first = await settle(ra.read(key, POLICY, load))
      }))
      const late = await settle(rb.read(key, POLICY, load))
      t.equal(calls(), 1, 'the registry was called once')
      if (outcome === 'done') {
        t.match(first.value, { source: 'upstream', record: RECORD })
        const retrievedAt = first.value?.retrievedAt
        t.match(late.value, { source: 'reuse', record: RECORD, retrievedAt }, 'B reuses A\'s record')
      } else if (outcome === 'absent') {
        t.same([first.value, late.value], [null, null], 'B shares "no such record"')
      } else {
        t.same([first.code, late.code], ['upstream.unavailable', 'upstream.unavailable'], 'B shares the failure')
      }
      // Not a negative cache: a read that starts after both asks the registry again (a "not found" or a
      // failure is not kept; a kept record is reused).
      const again = await settle(rb.read(key, POLICY, load))
      if (outcome === 'done') t.match([calls(), again.value], [1, { source: 'reuse' }], 'a later read reuses it')
      else t.equal(calls(), 2, 'a later read asks the registry again')
    })
  }

  t.test('an outcome announced while B is between its refused lock and its wait is not missed', async (t) => {
    const { a, b } = await pair()
    const key = keyOf()
    let calls = 0
    let finish: () => void = () => {}
    let loading: () => void = () => {}
    const started = new Promise<void>((resolve) => { loading = resolve })
    const load = async (): Promise<CanonicalRecord | null> => {
      calls++
      loading()
      if (calls === 1) await new Promise<void>((resolve) => { finish = resolve })
      return null
    }
    const first = reader(a).read(key, POLICY, load)
    await started // A holds the lock and is loading
    // B's lock attempt is refused; before B acts on that, A finishes ("absent") and releases the lock.
    const rb = reader(pausing(b, (method, result) => method === 'lock' && result === null, async () => {
      finish()
      await first
      await new Promise((resolve) => setTimeout(resolve, 50)) // the event has reached B's subscriber
    }))
    const since = performance.now()
    t.equal(await rb.read(key, POLICY, load), null, 'B shares "no such record"')
    t.equal(await first, null)
    t.equal(calls, 1, 'the registry was called once')
    // Had B missed the event, it would have waited out its 250 ms poll after the 50 ms above.
    t.ok(performance.now() - since < 290, `B answered in ${Math.round(performance.now() - since)} ms, on the event`)
  })
}

t.test('in-process store', async (t) => {
  races(t, async () => {
    const store = new MemoryRecordStore()
    return { a: store, b: store }
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
  races(t, async () => {
    const [ca, cb] = [new Redis(REDIS_URL), new Redis(REDIS_URL)]
    clients.push(ca, cb)
    const pair = { a: new RedisRecordStore(ca, prefix), b: new RedisRecordStore(cb, prefix) }
    stores.push(pair.a, pair.b)
    // The stores subscribe on connections of their own, asynchronously: wait until every one has.
    const subscribers = async (): Promise<number> =>
      Number(((await ca.pubsub('NUMSUB', `${prefix}reuse:events`)) as [string, number])[1])
    for (let i = 0; i < 200 && await subscribers() < stores.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    if (await subscribers() < stores.length) throw new Error('the stores did not subscribe to events in 2 s')
    return pair
  })
})
