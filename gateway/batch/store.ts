/**
 * A batch's state in Redis (CONTRACT §10): who submitted it and for what, its items, its results and its
 * counters. Items, results and staged results hold personal data, so they are sealed with the reuse store's
 * cipher (the configured cache keys), each under its own storage key as authenticated data; everything
 * expires `batch.resultTtlHours` after the batch's last activity.
 *
 * Keys, below `<keyPrefix>batch:<id>`:
 *   (none)     hash: client, keyId, service, operation, purpose, sub (sealed), total, window, createdAt,
 *              startedAt, finishedAt, cancelledAt, done, failed
 *   :in        hash index → sealed item (dropped when the batch ends)
 *   :pend      hash index → sealed { line, record }: a result staged before its record is handed to the log
 *   :out       hash index → sealed result line, written once (HSETNX)
 *   :c:<index> an item's claim while one worker runs it
 */
import type { Redis } from 'ioredis'
import type { RecordCipher } from '../reuse/cipher.js'
import type { TransactionRecord } from '../txlog/record.js'
import type { ResultLine } from './items.js'

export type BatchState = 'queued' | 'running' | 'done' | 'cancelled'

/** What a batch was submitted as: the same for every item. */
export interface BatchMeta {
  readonly client: string
  readonly keyId: string
  readonly service: string
  readonly operation: string
  readonly purpose: string | null
  readonly onBehalfOf: string | null
  readonly total: number
  readonly window: number
  readonly createdAt: string
}

export interface BatchStatus {
  readonly batchId: string
  readonly state: BatchState
  readonly total: number
  /** Items answered with data. */
  readonly done: number
  /** Items answered with a problem. */
  readonly failed: number
  readonly createdAt: string
  readonly finishedAt: string | null
}

/** A result staged before its transaction record is handed to the log (see run-item.ts). */
export interface StagedResult {
  readonly line: ResultLine
  readonly record: TransactionRecord
}

// Writes a result once, moves the counters, ends the batch with its last item and keeps it for the TTL.
// Also lets go of the item's claim (KEYS[5]) if ARGV[6] still holds it: one round trip for the last step.
const PROMOTE = `
if ARGV[6] ~= '' and redis.call('GET', KEYS[5]) == ARGV[6] then redis.call('DEL', KEYS[5]) end
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[1], ARGV[3], 1)
local m = redis.call('HMGET', KEYS[1], 'done', 'failed', 'total')
if (tonumber(m[1]) or 0) + (tonumber(m[2]) or 0) >= tonumber(m[3]) then
  redis.call('HSETNX', KEYS[1], 'finishedAt', ARGV[4])
  redis.call('DEL', KEYS[4])
end
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
return 1`

const RELEASE = 'if redis.call(\'GET\', KEYS[1]) == ARGV[1] then return redis.call(\'DEL\', KEYS[1]) end return 0'

/** How many results one read fetches while results are streamed. */
const READ_CHUNK = 500

export class BatchStore {
  readonly #redis: Redis
  readonly #prefix: string
  readonly #cipher: RecordCipher
  readonly #ttlSeconds: number

  constructor (redis: Redis, keyPrefix: string, cipher: RecordCipher, resultTtlHours: number) {
    this.#redis = redis
    this.#prefix = `${keyPrefix}batch:`
    this.#cipher = cipher
    this.#ttlSeconds = resultTtlHours * 3600
  }

  #key (id: string, part = ''): string {
    return `${this.#prefix}${id}${part}`
  }

  #seal (value: unknown, key: string, field: string | number): Buffer {
    return this.#cipher.seal(Buffer.from(JSON.stringify(value)), `${key}#${field}`)
  }

  #open<T> (sealed: Buffer | null, key: string, field: string | number): T | null {
    if (sealed === null) return null
    const plain = this.#cipher.open(sealed, `${key}#${field}`)
    return plain === null ? null : JSON.parse(plain.toString('utf8')) as T
  }

  /** Stores a new batch and its items (sealed); resolves once all of it is in Redis. */
  async create (id: string, meta: BatchMeta, items: readonly unknown[]): Promise<void> {
    const key = this.#key(id)
    const inKey = this.#key(id, ':in')
    const fields: Record<string, string | Buffer> = {
      client: meta.client,
      keyId: meta.keyId,
      service: meta.service,
      operation: meta.operation,
      total: String(meta.total),
      window: String(meta.window),
      createdAt: meta.createdAt,
      done: '0',
      failed: '0',
    }
    if (meta.purpose !== null) fields.purpose = meta.purpose
    if (meta.onBehalfOf !== null) fields.sub = this.#seal(meta.onBehalfOf, key, 'sub')
    for (let start = 0; start < items.length; start += 1000) {
      const pipe = this.#redis.pipeline()
      const chunk: Array<string | Buffer> = []
      for (let i = start; i < Math.min(items.length, start + 1000); i++) {
        chunk.push(String(i), this.#seal(items[i], inKey, i))
      }
      pipe.hset(inKey, ...chunk)
      pipe.expire(inKey, this.#ttlSeconds)
      await pipe.exec()
    }
    // The meta hash last: a batch is visible (and runnable) only once every item is stored.
    await this.#redis.multi().hset(key, fields).expire(key, this.#ttlSeconds).exec()
  }

  async meta (id: string): Promise<BatchMeta | null> {
    const key = this.#key(id)
    const h = await this.#redis.hgetallBuffer(key)
    if (h.client === undefined) return null
    const s = (name: string): string | null => h[name]?.toString('utf8') ?? null
    return {
      client: s('client') as string,
      keyId: s('keyId') as string,
      service: s('service') as string,
      operation: s('operation') as string,
      purpose: s('purpose'),
      onBehalfOf: h.sub === undefined ? null : this.#open<string>(h.sub, key, 'sub'),
      total: Number(s('total')),
      window: Number(s('window')),
      createdAt: s('createdAt') as string,
    }
  }

  /** The batch's progress, or null when there is no such batch (or it has expired). */
  async status (id: string): Promise<(BatchStatus & { client: string }) | null> {
    const h = await this.#redis.hgetall(this.#key(id))
    if (h.client === undefined) return null
    const state: BatchState = h.cancelledAt !== undefined
      ? 'cancelled'
      : h.finishedAt !== undefined ? 'done' : h.startedAt !== undefined ? 'running' : 'queued'
    return {
      batchId: id,
      client: h.client,
      state,
      total: Number(h.total),
      done: Number(h.done ?? 0),
      failed: Number(h.failed ?? 0),
      createdAt: h.createdAt as string,
      finishedAt: h.cancelledAt ?? h.finishedAt ?? null,
    }
  }

  /** Stops what has not run: items already running still finish and are recorded. */
  async cancel (id: string, now = new Date().toISOString()): Promise<void> {
    const key = this.#key(id)
    const [finished] = await this.#redis.hmget(key, 'finishedAt')
    if (finished !== null) return
    await this.#redis.multi().hsetnx(key, 'cancelledAt', now).del(this.#key(id, ':in')).exec()
  }

  async markStarted (id: string, now = new Date().toISOString()): Promise<void> {
    await this.#redis.hsetnx(this.#key(id), 'startedAt', now)
  }

  async item (id: string, index: number): Promise<{ value: unknown, bytes: number } | null> {
    const key = this.#key(id, ':in')
    const sealed = await this.#redis.hgetBuffer(key, String(index))
    const plain = sealed === null ? null : this.#cipher.open(sealed, `${key}#${index}`)
    return plain === null ? null : { value: JSON.parse(plain.toString('utf8')) as unknown, bytes: plain.length }
  }

  async hasResult (id: string, index: number): Promise<boolean> {
    return await this.#redis.hexists(this.#key(id, ':out'), String(index)) === 1
  }

  /** Takes an item for one worker for `ms`; false while another holds it. */
  async claim (id: string, index: number, token: string, ms: number): Promise<boolean> {
    return await this.#redis.set(this.#key(id, `:c:${index}`), token, 'PX', ms, 'NX') === 'OK'
  }

  async release (id: string, index: number, token: string): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.#key(id, `:c:${index}`), token)
  }

  async stage (id: string, index: number, staged: StagedResult): Promise<void> {
    const key = this.#key(id, ':pend')
    await this.#redis.multi()
      .hset(key, String(index), this.#seal(staged, key, index))
      .expire(key, this.#ttlSeconds)
      .exec()
  }

  /**
   * Writes an item's result (once: false if it already had one), drops what was staged for it and lets go
   * of the claim `token` holds on it.
   */
  async promote (id: string, line: ResultLine, token = '', now = new Date().toISOString()): Promise<boolean> {
    const out = this.#key(id, ':out')
    const sealed = this.#seal(line, out, line.index)
    const counter = line.problem === undefined ? 'done' : 'failed'
    const keys = [this.#key(id), out, this.#key(id, ':pend'), this.#key(id, ':in'), this.#key(id, `:c:${line.index}`)]
    return await this.#redis.eval(PROMOTE, keys.length, ...keys,
      String(line.index), sealed, counter, now, String(this.#ttlSeconds), token) === 1
  }

  /** In one round trip: whether the item has a result, and whether its batch is still to be worked on. */
  async peek (id: string, index: number): Promise<'result' | 'closed' | 'open'> {
    const [[, has], [, fields]] = await this.#redis.pipeline().hexists(this.#key(id, ':out'), String(index))
      .hmget(this.#key(id), 'client', 'finishedAt', 'cancelledAt')
      .exec() as [[null, number], [null, Array<string | null>]]
    if (has === 1) return 'result'
    return fields[0] !== null && fields[1] === null && fields[2] === null ? 'open' : 'closed'
  }

  /** In one round trip: whether the item has a result, and what is staged for it. */
  async progress (id: string, index: number): Promise<{ result: boolean, staged: StagedResult | null }> {
    const pend = this.#key(id, ':pend')
    const [[, has], [, staged]] = await this.#redis.pipeline().hexists(this.#key(id, ':out'), String(index))
      .hgetBuffer(pend, String(index)).exec() as [[null, number], [null, Buffer | null]]
    return { result: has === 1, staged: this.#open<StagedResult>(staged, pend, index) }
  }

  /** Every result written so far, in submission order. */
  async * results (id: string, total: number): AsyncGenerator<ResultLine> {
    const key = this.#key(id, ':out')
    for (let start = 0; start < total; start += READ_CHUNK) {
      const fields = Array.from({ length: Math.min(READ_CHUNK, total - start) }, (_, i) => String(start + i))
      const values = await this.#redis.hmgetBuffer(key, ...fields)
      for (let i = 0; i < values.length; i++) {
        const line = this.#open<ResultLine>(values[i] ?? null, key, start + i)
        if (line !== null) yield line
      }
    }
  }
}
