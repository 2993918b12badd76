/**
 * Real Redis for tests (REDIS_URL or redis://127.0.0.1:6379/0), with a key prefix unique to the run,
 * removed afterwards.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Test } from 'tap'

export const REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'

export function uniquePrefix (): string {
  return `ndx-test:${process.pid}:${randomBytes(4).toString('hex')}:`
}

export async function deleteByPrefix (redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await redis.del(...keys)
  } while (cursor !== '0')
}

/** A client for the test itself, plus a fresh prefix; both cleaned up at teardown. */
export async function testRedis (t: Test): Promise<{ redis: Redis, prefix: string }> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  const prefix = uniquePrefix()
  t.teardown(async () => {
    await deleteByPrefix(redis, prefix).catch(() => {})
    redis.disconnect()
  })
  await redis.ping()
  return { redis, prefix }
}
