/**
 * Provide once in a standalone gateway: the same reader over the in-process store.
 */
import t from 'tap'
import { MemoryRecordStore } from '../../gateway/reuse/store.js'
import { standaloneServices, reuseReader } from '../../gateway/services.js'
import { buildTestGateway, demoConfig, json, sharedSimulators, signedInject } from '../helpers/gateway.js'

t.test('reuse, coalescing and invalidation in process', async (t) => {
  const sims = await sharedSimulators(t)
  const config = await demoConfig(t)
  const { app } = await buildTestGateway(t, {
    config,
    services: standaloneServices(config, { records: reuseReader(config, new MemoryRecordStore()) }),
  })
  const civ = sims.civilStatus
  const id = '030075654294'
  civ.settings.latencyMs = 80
  t.teardown(() => { civ.settings.latencyMs = 0 })
  const replies = await Promise.all(
    Array.from({ length: 50 }, () =>
      signedInject(app, 'VN.LOC.DNG', 'GET', `/v1/civil-status/persons/${id}/marital-status`, {
        purpose: 'public-service',
      })
    )
  )
  t.same([...new Set(replies.map((r) => r.statusCode))], [200])
  t.equal(civ.lookupCount(id), 1, 'one SOAP call for the person')
  t.equal(civ.lookupCount('096179024395'), 1, 'and one for the spouse (checking for a death registration)')
  const events = await signedInject(app, 'VN.BHXH', 'GET', `/v1/civil-status/persons/${id}/events`, {
    purpose: 'social-insurance',
  })
  t.match(json(events).meta, { source: 'reuse' }, 'marital status and events share the events record')
  const note = await signedInject(app, 'VN.BTP.HT', 'POST', '/v1/notifications', {
    body: { service: 'civil-status', subject: id, event: 'updated' },
  })
  t.same(json(note), { invalidated: 1 })
  await signedInject(app, 'VN.BHXH', 'GET', `/v1/civil-status/persons/${id}/events`, { purpose: 'social-insurance' })
  t.equal(civ.lookupCount(id), 2)
})
