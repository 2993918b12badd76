/**
 * Health and metrics: liveness, readiness that follows Redis, and metrics that move as traffic flows.
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildTestGateway, demoConfig, json, signedInject } from '../helpers/gateway.js'
import { uniquePrefix } from '../helpers/redis.js'
import { privateRedis } from '../helpers/redis-server.js'
import { redisGateway } from '../helpers/redis-gateway.js'

function metric (text: string, name: string, labels = ''): number {
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith(`${name}${labels === '' ? ' ' : `{${labels}}`}`) || (labels === '' && l.startsWith(`${name} `))
    )
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

t.test('liveness and readiness, standalone', async (t) => {
  const { app } = await buildTestGateway(t)
  const live = await app.inject({ url: '/health/live' })
  t.equal(live.statusCode, 200)
  t.same(json(live), { status: 'live' })
  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.match(json(ready), { status: 'ready', checks: { config: /^ok \([0-9a-f]{16}\)$/, redis: 'not used (standalone)' } })
})

t.test('readiness follows Redis', async (t) => {
  const server = await privateRedis(t)
  const gw = await redisGateway(t, await demoConfig(t), server.url, uniquePrefix())
  t.equal((await gw.app.inject({ url: '/health/ready' })).statusCode, 200)
  await server.kill()
  let down = await gw.app.inject({ url: '/health/ready' })
  for (let i = 0; i < 40 && down.statusCode === 200; i++) {
    await sleep(50)
    down = await gw.app.inject({ url: '/health/ready' })
  }
  t.equal(down.statusCode, 503)
  t.match(json(down), { status: 'unavailable', reason: /redis is not answering/, checks: { redis: /^down/ } })
  t.match((await gw.app.inject({ url: '/metrics' })).body, /ndx_redis_up 0/)
  await server.start()
  let up = await gw.app.inject({ url: '/health/ready' })
  for (let i = 0; i < 60 && up.statusCode !== 200; i++) {
    await sleep(100)
    up = await gw.app.inject({ url: '/health/ready' })
  }
  t.equal(up.statusCode, 200, 'ready again once Redis is back')
})

t.test('metrics move as traffic flows', async (t) => {
  // Standalone services read through the reuse store, as a standalone gateway does.
  const { app, sims } = await buildTestGateway(t)
  const scrape = async () => (await app.inject({ url: '/metrics' })).body
  const before = await scrape()
  t.match(before, /# TYPE ndx_requests_total counter/)
  const citizen = 'service="population",operation="citizen"'
  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/030210217542', { purpose: 'public-service' })
  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/030210217542', { purpose: 'public-service' })
  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/999999999999', { purpose: 'public-service' })
  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/030210217542?fields=phone', {
    purpose: 'public-service',
  })
  sims.population.settings.failRate = 1
  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/001154711812', { purpose: 'public-service' })
  sims.population.settings.failRate = 0
  const token = await (
    await import('../../sdk/index.js')
  ).signRequest(await (await import('../helpers/gateway.js')).demoSigner('VN.LOC.DNG'), {
    method: 'GET',
    target: '/v1/business-registry/enterprises/2627349851',
  })
  for (let i = 0; i < 2; i++) {
    await app.inject({
      url: '/v1/business-registry/enterprises/2627349851',
      headers: { authorization: `Bearer ${token}` },
    })
  }
  const after = await scrape()
  t.equal(metric(after, 'ndx_requests_total', `${citizen},outcome="ok",code="none"`), 2)
  t.equal(metric(after, 'ndx_requests_total', `${citizen},outcome="not_found",code="record.not_found"`), 1)
  t.equal(metric(after, 'ndx_requests_total', `${citizen},outcome="denied",code="access.field"`), 1)
  t.equal(metric(after, 'ndx_requests_total', `${citizen},outcome="error",code="upstream.unavailable"`), 1)
  t.equal(metric(after, 'ndx_request_duration_seconds_count', citizen), 5)
  t.equal(
    metric(after, 'ndx_registry_calls_total', 'service="population",result="ok"'),
    1,
    'the second lookup was reused'
  )
  t.equal(metric(after, 'ndx_registry_calls_total', 'service="population",result="not_found"'), 1)
  t.equal(metric(after, 'ndx_registry_calls_total', 'service="population",result="upstream.unavailable"'), 1)
  t.equal(metric(after, 'ndx_registry_duration_seconds_count', 'service="population"'), 3)
  t.equal(metric(after, 'ndx_reuse_total', 'result="hit"'), 1)
  t.equal(metric(after, 'ndx_reuse_total', 'result="miss"') - metric(before, 'ndx_reuse_total', 'result="miss"'), 2)
  t.equal(metric(after, 'ndx_replay_refusals_total'), 1)
})
