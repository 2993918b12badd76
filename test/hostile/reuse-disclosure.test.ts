/**
 * What reuse tells a grantee about other agencies' lookups (issue 10, item 9). A kept record's
 * `meta.retrievedAt` is given to the minute (rounded down), so a grantee cannot read off when exactly
 * another agency looked the person up. (That the record was kept, `meta.source: reuse`, the contract shows.)
 */
import t from 'tap'
import { toMinute } from '../../gateway/pipeline/reply.js'
import { demoConfig, json, signedInject } from '../helpers/gateway.js'
import { redisGateway } from '../helpers/redis-gateway.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'

t.test('another agency\'s lookup time is not disclosed beyond the minute', async (t) => {
  const { prefix } = await testRedis(t)
  const gw = await redisGateway(t, await demoConfig(t), REDIS_URL, prefix)
  const target = '/v1/population/citizens/030075654294?fields=fullName'
  const first = await signedInject(gw.app, 'VN.LOC.DNG', 'GET', target, { purpose: 'public-service' })
  t.equal(first.statusCode, 200)
  const evn = await signedInject(gw.app, 'VN.BHXH', 'GET', target, { purpose: 'social-insurance' })
  t.equal(evn.statusCode, 200)
  const meta = json(evn).meta as { source: string, retrievedAt: string }
  t.equal(meta.source, 'reuse')
  t.match(meta.retrievedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/, 'seconds and milliseconds withheld')
  t.ok(Date.parse(meta.retrievedAt) <= Date.now(), 'never later than the real time')
  t.equal((json(first).meta as { retrievedAt: string }).retrievedAt, meta.retrievedAt)
  t.equal(toMinute('2026-11-25T16:59:59.999Z'), '2026-11-25T16:59:00.000Z')
  t.equal(toMinute('not a time'), 'not a time')
})
