/**
 * The declarative HTTP adapter: a JSON registry registered by one file, with every mapping type, and the
 * mapping of every kind of upstream failure onto its problem code.
 */
import t from 'tap'
import { loadConfig } from '../../gateway/config/load-config.js'
import { addLandRegistry, startLandRegistry } from '../helpers/land-registry.js'
import { buildTestGateway, copyConfig, json, sharedSimulators, signedInject } from '../helpers/gateway.js'

t.test('a registry added by a file alone', async (t) => {
  const land = await startLandRegistry()
  t.teardown(() => land.close())
  const dir = await copyConfig(t)
  await addLandRegistry(dir)
  const sims = await sharedSimulators(t)
  const { app, sink } = await buildTestGateway(t, {
    config: await loadConfig(dir, { ...sims.env, LAND_URL: land.url }),
  })
  const get = (id: string, path = 'parcels') =>
    signedInject(app, 'VN.LOC.DNG', 'GET', `/v1/land-registry/${path}/${id}`, { purpose: 'public-service' })

  t.test('every mapping type', async (t) => {
    const res = await get('0101000001')
    t.equal(res.statusCode, 200)
    t.same(json(res).data, {
      parcelId: '0101000001',
      areaM2: 152.5,
      registeredOn: '2010-03-15',
      landUse: 'urban-residential',
      active: true,
      mapSheet: '12',
      owner: { hoVaTen: 'Dương Đức Việt', soDinhDanh: '030075654294' },
      ownerName: 'Dương Đức Việt',
      history: [{ nam: 2010 }, { nam: 2015 }],
      surveyor: null,
    })
    t.match(json(res).meta, { service: 'land-registry', operation: 'parcel', source: 'upstream' })
    t.match(sink.records.at(-1), {
      route: '/v1/land-registry/parcels/{parcelId}',
      service: 'land-registry',
      operation: 'parcel',
      outcome: 'ok',
    })
    t.ok((sink.records.at(-1)?.upstreamMs ?? 0) > 0, 'time spent upstream is recorded')
  })

  t.test('a query request and a pointer into the reply', async (t) => {
    const found = await get('0101000001', 'parcel-search')
    t.same(json(found).data, { parcelId: '0101000001', areaM2: 152.5 })
    const none = await get('0101000002', 'parcel-search')
    t.equal(json(none).code, 'record.not_found', 'a pointer to nothing is no record')
  })

  t.test('notFound statuses mean no such record', async (t) => {
    const res = await get('0101000404')
    t.equal(res.statusCode, 404)
    t.equal(json(res).code, 'record.not_found')
    t.equal(json(await get('0101000992')).code, 'record.not_found', 'a null reply is no record')
  })

  t.test('registry failures map onto problem codes', async (t) => {
    const cases: Array<[string, number, string, string]> = [
      ['0101000500', 503, 'upstream.unavailable', 'a 500'],
      ['0101000503', 503, 'upstream.unavailable', 'a 503'],
      ['0101000401', 502, 'upstream.bad_response', 'a 401: our key is wrong'],
      ['0101000999', 502, 'upstream.bad_response', 'HTML instead of JSON'],
      ['0101000998', 502, 'upstream.bad_response', 'truncated JSON'],
      ['0101000997', 502, 'upstream.bad_response', 'a date that does not exist'],
      ['0101000996', 502, 'upstream.bad_response', 'a code the map does not know'],
      ['0101000994', 502, 'upstream.bad_response', 'a reply over the size limit'],
      ['0101000993', 503, 'upstream.unavailable', 'the connection dropped'],
      ['0101000995', 504, 'upstream.timeout', 'slower than timeoutMs'],
    ]
    for (const [id, status, code, why] of cases) {
      const res = await get(id)
      t.equal(res.statusCode, status, why)
      t.equal(json(res).code, code, why)
      t.notMatch(json(res).detail, /401|500|503|html|0101/i, 'the detail keeps registry internals out')
      t.equal(sink.records.at(-1)?.outcome, 'error')
    }
  })
})

t.test('a registry that cannot be reached is upstream.unavailable', async (t) => {
  const dir = await copyConfig(t)
  await addLandRegistry(dir)
  const sims = await sharedSimulators(t)
  const { app } = await buildTestGateway(t, { config: await loadConfig(dir, { ...sims.env, LAND_URL: 'http://127.0.0.1:1' }) })
  const res = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/land-registry/parcels/0101000001', {
    purpose: 'public-service',
  })
  t.equal(res.statusCode, 503)
  t.equal(json(res).code, 'upstream.unavailable')
})

t.test('built-in adapters map their registries\' failures too', async (t) => {
  const sims = await sharedSimulators(t)
  const { app } = await buildTestGateway(t, { env: { POPULATION_API_KEY: 'wrong-key', CIVIL_STATUS_URL: 'http://127.0.0.1:1' } })
  const pop = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/030075654294', {
    purpose: 'public-service',
  })
  t.equal(pop.statusCode, 502, 'a key the registry refuses')
  t.equal(json(pop).code, 'upstream.bad_response')
  const civ = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/civil-status/persons/030075654294/events', {
    purpose: 'public-service',
  })
  t.equal(json(civ).code, 'upstream.unavailable')
  sims.businessRegistry.settings.failRate = 1
  t.teardown(() => { sims.businessRegistry.settings.failRate = 0 })
  const biz = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
  t.equal(json(biz).code, 'upstream.unavailable')
})

t.test('a slow built-in registry is upstream.timeout', async (t) => {
  const sims = await sharedSimulators(t)
  const dir = await copyConfig(t)
  const { readFile, writeFile } = await import('node:fs/promises')
  const file = `${dir}/adapters/civil-status.yaml`
  await writeFile(file, (await readFile(file, 'utf8')).replace('timeoutMs: 3000', 'timeoutMs: 200'))
  const { app } = await buildTestGateway(t, { config: await loadConfig(dir, sims.env) })
  sims.civilStatus.settings.latencyMs = 600
  t.teardown(() => { sims.civilStatus.settings.latencyMs = 0 })
  const res = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/civil-status/persons/030075654294/events', {
    purpose: 'public-service',
  })
  t.equal(res.statusCode, 504)
  t.equal(json(res).code, 'upstream.timeout')
})
