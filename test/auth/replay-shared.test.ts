/**
 * Two gateway instances on one real Redis: a token served by one is refused by the other.
 */
import t from 'tap'
import { Redis } from 'ioredis'
import { RedisReplayGuard } from '../../gateway/auth/replay-guard.js'
import { buildTestGateway, demoSigner } from '../helpers/gateway.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { signRequest } from '../../sdk/index.js'

t.test('a replay to another instance is refused', async (t) => {
  const { prefix } = await testRedis(t)
  const clients = [new Redis(REDIS_URL), new Redis(REDIS_URL)]
  t.teardown(() => { for (const c of clients) c.disconnect() })
  const [a, b] = await Promise.all(
    clients.map((redis) => buildTestGateway(t, { parts: { replayGuard: new RedisReplayGuard(redis, prefix) } }))
  )
  const target = '/v1/business-registry/enterprises/2627349851'
  const token = await signRequest(await demoSigner('VN.LOC.DNG'), { method: 'GET', target })
  const headers = { authorization: `Bearer ${token}` }
  const first = await a!.app.inject({ method: 'GET', url: target, headers })
  const replay = await b!.app.inject({ method: 'GET', url: target, headers })
  t.equal(first.statusCode, 200)
  t.equal(replay.statusCode, 401)
  t.equal(JSON.parse(replay.body).code, 'auth.replayed')
  t.equal(
    await clients[0]!.exists(
      `${prefix}jti:VN.LOC.DNG:${JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti}`
    ),
    1
  )
})
