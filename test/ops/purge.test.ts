/**
 * Purge and record versions in process, on a real Redis: POST /v1/admin/purge drops a whole service's
 * kept records or one subject's, and a record kept under one mapping version is never read under another.
 */
import t from 'tap'
import { MemoryRecordStore } from '../../gateway/reuse/store.js'
import { reuseReader } from '../../gateway/services.js'
import { demoConfig, json, signedInject } from '../helpers/gateway.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { redisGateway } from '../helpers/redis-gateway.js'

const citizen = (id: string) => `/v1/population/citizens/${id}?fields=fullName`
const source = (res: Parameters<typeof json>[0]): string => (json(res).meta as { source: string }).source

t.test('POST /v1/admin/purge drops a service\'s kept records, or one subject\'s', async (t) => {
  const { prefix } = await testRedis(t)
  const { app } = await redisGateway(t, await demoConfig(t), REDIS_URL, prefix)
  const get = (id: string) => signedInject(app, 'VN.LOC.DNG', 'GET', citizen(id), { purpose: 'public-service' })
  for (const id of ['030075654294', '096179024395']) await get(id)
  t.equal(source(await get('030075654294')), 'reuse', 'kept')
  const one = await signedInject(app, 'VN.NDXP.OPS', 'POST', '/v1/admin/purge', {
    body: { service: 'population', subject: '030075654294' },
  })
  t.same([one.statusCode, json(one)], [202, { invalidated: 1 }])
  t.equal(source(await get('030075654294')), 'upstream', 'that subject is read again')
  t.equal(source(await get('096179024395')), 'reuse', 'another subject is still kept')
  const all = await signedInject(app, 'VN.NDXP.OPS', 'POST', '/v1/admin/purge', { body: { service: 'population' } })
  t.same([all.statusCode, json(all)], [202, { invalidated: 2 }], 'the whole service')
  t.equal(source(await get('096179024395')), 'upstream')
  const media = await signedInject(app, 'VN.NDXP.OPS', 'POST', '/v1/admin/purge', {
    body: 'service=population',
    headers: { 'content-type': 'text/plain' },
  })
  t.equal(json(media).code, 'request.media_type')
  // A prototype name is no configured service (a plain-object lookup would find Object's constructor).
  const proto = await signedInject(app, 'VN.NDXP.OPS', 'POST', '/v1/admin/purge', { body: { service: 'constructor' } })
  t.same([proto.statusCode, json(proto).code], [400, 'request.invalid'], '"constructor" is not a service')
})

t.test('a record kept under one mapping version is never read under another', async (t) => {
  const reader = reuseReader(await demoConfig(t), new MemoryRecordStore())
  const key = { service: 'land-registry', kind: 'parcel', subject: '0101000001', params: { parcelId: '0101000001' } }
  let loads = 0
  const load = async () => ({ n: ++loads })
  const policy = (version: string) => ({ ttlSeconds: 600, loadTimeoutMs: 1000, version })
  t.match(await reader.read(key, policy('v1'), load), { source: 'upstream', record: { n: 1 } })
  t.match(
    await reader.read(key, policy('v1'), load),
    { source: 'reuse', record: { n: 1 } },
    'reused under the same version'
  )
  t.match(
    await reader.read(key, policy('v2'), load),
    { source: 'upstream', record: { n: 2 } },
    'read again under a new one'
  )
  t.equal(await reader.invalidate('land-registry'), 2, 'both versions are dropped with the service')
  await reader.close()
})
