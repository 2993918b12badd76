/**
 * Redis trouble is not an outage: when Redis stops, lookups go straight to the registry (still one call
 * per record within the instance); when it is back, reuse resumes by itself.
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { json, demoConfig, sharedSimulators, signedInject } from '../helpers/gateway.js'
import { privateRedis } from '../helpers/redis-server.js'
import { redisGateway } from '../helpers/redis-gateway.js'
import { uniquePrefix } from '../helpers/redis.js'

t.test('Redis stopped mid-test, then restarted', async (t) => {
  const sims = await sharedSimulators(t)
  const server = await privateRedis(t)
  const gw = await redisGateway(t, await demoConfig(t), server.url, uniquePrefix())
  const pop = sims.population
  const get = (id: string) =>
    signedInject(gw.app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${id}`, { purpose: 'public-service' })

  t.match(json(await get('030210217542')).meta, { source: 'upstream' })
  t.match(json(await get('030210217542')).meta, { source: 'reuse' })

  await server.kill()
  const started = performance.now()
  const during = await get('030203183003')
  t.equal(during.statusCode, 200, 'answered while Redis is down')
  t.match(json(during).meta, { source: 'upstream' })
  t.ok(performance.now() - started < 1500, 'without waiting on Redis')
  const copy = await get('030210217542')
  t.match(json(copy).meta, { source: 'reuse' }, 'the in-process copy answers within reuse.localMs (1 s)')
  await sleep(gw.config.gateway.reuse.localMs + 100)
  const again = await get('030210217542')
  t.equal(again.statusCode, 200)
  t.match(json(again).meta, { source: 'upstream' }, 'past it, nothing to reuse while the store is away')
  t.equal(gw.reuse.storeHealthy, false, 'the outage is visible')

  const before = pop.lookupCount('051088191158')
  pop.settings.latencyMs = 100
  const burst = await Promise.all(Array.from({ length: 30 }, () => get('051088191158')))
  pop.settings.latencyMs = 0
  t.same([...new Set(burst.map((r) => r.statusCode))], [200])
  t.equal(pop.lookupCount('051088191158') - before, 1, 'still one registry call per record within the instance')
  t.ok(gw.sink.records.every((r) => r.status === 200), 'every request was recorded and served')

  await server.start()
  let resumed = false
  for (let i = 0; i < 40 && !resumed; i++) {
    await sleep(100)
    const res = await get('048193094338')
    resumed = res.statusCode === 200 && gw.reuse.storeHealthy
  }
  t.ok(resumed, 'the store is used again without a restart')
  await get('048193094338')
  t.match(json(await get('048193094338')).meta, { source: 'reuse' }, 'and records are reused again')
})
