/**
 * The record store on Redis, shared by every gateway instance. Keys live under the configured prefix;
 * a subject's keys share a hash tag (its index), so the scripts below stay within one Cluster slot.
 */
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { indexOf, parseLastLoad, type LastLoad, type LoadOutcome, type RecordStore, type StoreEvent } from './store.js'

const SET_IF_GENERATION = `
local g = redis.call('GET', KEYS[3]) or '0'
if g ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1`

const INVALIDATE = `
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
local n = 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do n = n + redis.call('DEL', k) end
redis.call('DEL', KEYS[1])
return n`

// The last load is kept first, whoever holds the lock now: a reader that takes the lock next must find it.
const UNLOCK = `
if ARGV[2] then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/** Generations outlive any record (a week), so a slow load cannot outwait its invalidation. */
const GENERATION_TTL_MS = 7 * 24 * 3600 * 1000

export class RedisRecordStore implements RecordStore {
  readonly #redis: Redis
  readonly #subscriber: Redis
  readonly #prefix: string
  readonly #channel: string
  readonly #listeners: Array<(e: StoreEvent) => void> = []

  constructor (redis: Redis, prefix: string) {
    this.#redis = redis
    this.#prefix = `${prefix}reuse:`
    this.#channel = `${prefix}reuse:events`
    // A subscriber needs its own connection; it may queue its SUBSCRIBE until Redis is reachable.
    this.#subscriber = redis.duplicate({
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      enableAutoPipelining: false,
    })
    this.#subscriber.on('error', () => { /* reported by the main connection */ })
    this.#subscriber.on('message', (_channel: string, message: string) => {
      let event: StoreEvent
      try { event = JSON.parse(message) as StoreEvent } catch { return }
      for (const l of this.#listeners) l(event)
    })
    this.#subscriber.subscribe(this.#channel).catch(() => { /* resubscribed on reconnect */ })
  }

  #rec (key: string): string { return `${this.#prefix}r:{${indexOf(key)}}:${key.slice(key.indexOf(':') + 1)}` }
  #idx (index: string): string { return `${this.#prefix}i:{${index}}` }
  #gen (index: string): string { return `${this.#prefix}g:{${index}}` }
  #lock (key: string): string { return `${this.#prefix}l:{${indexOf(key)}}:${key.slice(key.indexOf(':') + 1)}` }
  #last (key: string): string { return `${this.#prefix}o:{${indexOf(key)}}:${key.slice(key.indexOf(':') + 1)}` }

  get (key: string): Promise<Buffer | null> {
    return this.#redis.getBuffer(this.#rec(key))
  }

  async getWithLastLoad (key: string): Promise<{ value: Buffer | null, lastLoad: LastLoad | null }> {
    const [value = null, last] = await this.#redis.mgetBuffer(this.#rec(key), this.#last(key))
    return { value, lastLoad: parseLastLoad(last) }
  }

  async lastLoad (key: string): Promise<LastLoad | null> {
    return parseLastLoad(await this.#redis.get(this.#last(key)))
  }

  async generation (index: string): Promise<string> {
    return (await this.#redis.get(this.#gen(index))) ?? '0'
  }

  async set (key: string, value: Buffer, ttlMs: number, generation: string): Promise<boolean> {
    const index = indexOf(key)
    const done = await this.#redis.eval(
      SET_IF_GENERATION,
      3,
      this.#rec(key),
      this.#idx(index),
      this.#gen(index),
      value,
      String(Math.max(1, Math.ceil(ttlMs))),
      generation
    )
    return done === 1
  }

  async invalidate (index: string): Promise<number> {
    return Number(await this.#redis.eval(INVALIDATE, 2, this.#idx(index), this.#gen(index), String(GENERATION_TTL_MS)))
  }

  async invalidatePrefix (prefix: string): Promise<number> {
    // Index names are keyed hashes (no glob characters), so the prefix can go into MATCH as it is.
    const match = `${this.#prefix}i:{${prefix}*`
    const start = this.#prefix.length + 3
    let n = 0
    let cursor = '0'
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', match, 'COUNT', 1000)
      cursor = next
      for (const key of keys) n += await this.invalidate(key.slice(start, -1))
    } while (cursor !== '0')
    return n
  }

  async lock (key: string, ttlMs: number): Promise<string | null> {
    // Unique across instances (pid and a counter are not: every container's gateway may be pid 1).
    const token = randomUUID()
    const ok = await this.#redis.set(this.#lock(key), token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')
    return ok === 'OK' ? token : null
  }

  async unlock (key: string, token: string, last?: LoadOutcome): Promise<void> {
    const kept = last === undefined
      ? []
      : [JSON.stringify({ id: token, event: last.event }), String(Math.max(1, Math.ceil(last.keepMs)))]
    await this.#redis.eval(UNLOCK, 2, this.#lock(key), this.#last(key), token, ...kept)
  }

  async publish (event: StoreEvent): Promise<void> {
    await this.#redis.publish(this.#channel, JSON.stringify(event))
  }

  subscribe (listener: (event: StoreEvent) => void): void {
    this.#listeners.push(listener)
  }

  async close (): Promise<void> {
    this.#subscriber.disconnect()
  }
}
