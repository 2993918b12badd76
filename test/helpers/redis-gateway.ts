/**
 * A gateway instance in production shape for Redis: shared replay guard and reuse store on a real Redis.
 */
import type { Test } from 'tap'
import type { Redis } from 'ioredis'
import { RedisReplayGuard } from '../../gateway/auth/replay-guard.js'
import type { GatewayConfig } from '../../core/config-types.js'
import { connectRedis, waitReady } from '../../gateway/process/redis.js'
import { RedisRecordStore } from '../../gateway/reuse/redis-store.js'
import type { ReuseReader } from '../../gateway/reuse/reuse-reader.js'
import { standaloneServices, reuseReader } from '../../gateway/services.js'
import { buildTestGateway, type TestGateway } from './gateway.js'

export interface RedisTestGateway extends TestGateway {
  readonly redis: Redis
  readonly reuse: ReuseReader
}

export async function redisGateway (
  t: Test,
  config: GatewayConfig,
  url: string,
  prefix: string
): Promise<RedisTestGateway> {
  const redis = connectRedis({ url, commandTimeoutMs: 250 })
  await waitReady(redis, 2000)
  const reuse = reuseReader(config, new RedisRecordStore(redis, prefix))
  const services = standaloneServices(config, {
    records: reuse,
    replayGuard: new RedisReplayGuard(redis, prefix),
    redis,
  })
  t.teardown(() => {
    redis.disconnect()
  })
  const gw = await buildTestGateway(t, { config, services })
  return { ...gw, redis, reuse }
}
