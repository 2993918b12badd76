/**
 * CONTRACT §6 with two gateway instances on one real Redis: reuse across agencies with per-agency fields,
 * one registry call for 200 concurrent requests, invalidation by notification, access before reuse, and
 * nothing personal readable in Redis.
 */
import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../gateway/config/load-config.js'
import { copyConfig, json, sharedSimulators, signedInject } from '../helpers/gateway.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { redisGateway } from '../helpers/redis-gateway.js'

t.test('provide once across two instances', async (t) => {
  const sims = await sharedSimulators(t)
  const { redis, prefix } = await testRedis(t)
  const dir = await copyConfig(t)
  const config = await loadConfig(dir, sims.env)
  const a = await redisGateway(t, config, REDIS_URL, prefix)
  const b = await redisGateway(t, config, REDIS_URL, prefix)
  const pop = sims.population

  t.test('a record fetched for one agency is reused for another, each seeing its own fields', async (t) => {
    const id = '096179024395'
    const first = await signedInject(a.app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${id}`, {
      purpose: 'public-service',
    })
    const second = await signedInject(b.app, 'VN.BHXH', 'GET', `/v1/population/citizens/${id}`, {
      purpose: 'social-insurance',
    })
    t.equal(first.statusCode, 200)
    t.equal(second.statusCode, 200)
    t.match(json(first).meta, { source: 'upstream', stale: false })
    t.match(json(second).meta, { source: 'reuse', stale: false })
    t.equal(
      (json(second).meta as { retrievedAt: string }).retrievedAt,
      (json(first).meta as { retrievedAt: string }).retrievedAt,
      'retrievedAt is when the registry provided it'
    )
    t.same(Object.keys(json(first).data as object), [
      'personalId',
      'fullName',
      'dateOfBirth',
      'gender',
      'permanentAddress',
      'currentAddress',
      'householdHead',
      'relationToHouseholdHead',
    ])
    t.same(Object.keys(json(second).data as object), [
      'personalId',
      'fullName',
      'dateOfBirth',
      'gender',
      'permanentAddress',
      'father',
      'mother',
      'spouse',
      'maritalStatus',
      'dateOfDeath',
    ])
    t.equal(pop.lookupCount(id), 1, 'one registry call')
    const verify = await signedInject(a.app, 'VN.EVN.HCMC', 'POST', `/v1/population/citizens/${id}/verify`, {
      purpose: 'customer-verification',
      body: { fullName: 'Hoàng Phương Nga' },
    })
    t.match(json(verify), { data: { match: true }, meta: { source: 'reuse', operation: 'verify' } })
    t.equal(pop.lookupCount(id), 1, 'verify reuses the citizen record')
    t.equal(b.sink.records.at(-1)?.source, 'reuse', 'the transaction record says where the answer came from')
  })

  t.test('200 concurrent calls for a new record cause exactly one registry call', async (t) => {
    const id = '001154711812'
    pop.settings.latencyMs = 150
    t.teardown(() => { pop.settings.latencyMs = 0 })
    const calls = Array.from({ length: 200 }, (_, i) =>
      signedInject(
        i % 2 === 0 ? a.app : b.app,
        i % 3 === 0 ? 'VN.BHXH' : 'VN.LOC.DNG',
        'GET',
        `/v1/population/citizens/${id}`,
        { purpose: i % 3 === 0 ? 'social-insurance' : 'public-service' }
      )
    )
    const replies = await Promise.all(calls)
    t.equal(replies.filter((r) => r.statusCode === 200).length, 200)
    t.equal(pop.lookupCount(id), 1)
    const sources = replies.map((r) => (json(r).meta as { source: string }).source)
    t.equal(sources.filter((s) => s === 'upstream').length, 1)
    t.equal(sources.filter((s) => s === 'reuse').length, 199)
  })

  t.test('a failed first load is shared by the waiters, not retried by each', async (t) => {
    const id = '051157873572'
    pop.settings.latencyMs = 100
    pop.settings.failRate = 1
    t.teardown(() => { pop.settings.latencyMs = 0; pop.settings.failRate = 0 })
    const before = pop.stats.requests
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        signedInject(i % 2 === 0 ? a.app : b.app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${id}`, {
          purpose: 'public-service',
        })
      )
    )
    t.same([...new Set(replies.map((r) => json(r).code))], ['upstream.unavailable'])
    t.equal(pop.stats.requests - before, 1, 'one registry call for all 40, across both instances')
  })

  t.test('an unknown subject: one registry call, not cached', async (t) => {
    const id = '999999999998'
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        signedInject(i % 2 === 0 ? a.app : b.app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${id}`, {
          purpose: 'public-service',
        })
      )
    )
    t.same([...new Set(replies.map((r) => r.statusCode))], [404])
    t.equal(pop.lookupCount(id), 1, 'one registry call for all 20, across both instances')
    const later = pop.lookupCount(id)
    await signedInject(a.app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${id}`, { purpose: 'public-service' })
    t.equal(
      pop.lookupCount(id),
      later + 1,
      'a "not found" is asked again next time (the citizen may be registered since)'
    )
  })

  t.test('a notification from the source invalidates the subject on every instance', async (t) => {
    const id = '030075654294'
    await signedInject(a.app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${id}`, { purpose: 'public-service' })
    await signedInject(b.app, 'VN.LOC.DNG', 'GET', `/v1/civil-status/persons/${id}/events`, {
      purpose: 'public-service',
    })
    const before = pop.lookupCount(id)
    const res = await signedInject(a.app, 'VN.BCA.C06', 'POST', '/v1/notifications', {
      body: { service: 'population', subject: id, event: 'updated' },
    })
    t.equal(res.statusCode, 202)
    t.same(json(res), { invalidated: 1 })
    t.match(a.sink.records.at(-1), {
      service: 'notifications',
      operation: 'invalidate',
      outcome: 'ok',
      client: 'VN.BCA.C06',
      subjectRef: String,
    })
    const after = await signedInject(b.app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${id}`, {
      purpose: 'public-service',
    })
    t.equal((json(after).meta as { source: string }).source, 'upstream')
    t.equal(pop.lookupCount(id), before + 1)
    const events = await signedInject(b.app, 'VN.LOC.DNG', 'GET', `/v1/civil-status/persons/${id}/events`, {
      purpose: 'public-service',
    })
    t.equal((json(events).meta as { source: string }).source, 'reuse', 'another service\'s records of the subject stay')
    const again = await signedInject(b.app, 'VN.BCA.C06', 'POST', '/v1/notifications', {
      body: { service: 'population', subject: '123456789012', event: 'updated' },
    })
    t.same(json(again), { invalidated: 0 })
  })

  t.test('notifications: only sources, only for their services, well-formed', async (t) => {
    const body = { service: 'population', subject: '030075654294', event: 'updated' }
    t.equal(
      json(await signedInject(a.app, 'VN.BHXH', 'POST', '/v1/notifications', { body, purpose: 'social-insurance' }))
        .code,
      'access.role'
    )
    t.equal(json(await signedInject(a.app, 'VN.BTP.HT', 'POST', '/v1/notifications', { body })).code, 'access.denied')
    t.match(
      json(
        await signedInject(a.app, 'VN.BCA.C06', 'POST', '/v1/notifications', {
          body: { ...body, service: 'land-registry' },
        })
      ),
      { code: 'request.invalid', errors: [{ name: 'service' }] }
    )
    t.match(
      json(
        await signedInject(a.app, 'VN.BCA.C06', 'POST', '/v1/notifications', {
          body: { ...body, event: 'exploded' },
        })
      ),
      { code: 'request.invalid', errors: [{ name: 'event' }] }
    )
    t.equal(
      json(
        await signedInject(a.app, 'VN.BCA.C06', 'POST', '/v1/notifications', {
          body: JSON.stringify(body),
          headers: { 'content-type': 'text/plain' },
        })
      ).code,
      'request.media_type'
    )
  })

  t.test('access is checked before reuse: a refusal looks the same whether the record is kept or not', async (t) => {
    const kept = '038085681321'
    await signedInject(a.app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${kept}`, { purpose: 'public-service' })
    const count = pop.lookupCount(kept)
    const strip = (body: string) => ({ ...JSON.parse(body), transactionId: undefined })
    const onKept = await signedInject(b.app, 'VN.VIETTEL', 'GET', `/v1/population/citizens/${kept}`, {
      purpose: 'subscriber-verification',
    })
    const onOther = await signedInject(b.app, 'VN.VIETTEL', 'GET', '/v1/population/citizens/038059225871', {
      purpose: 'subscriber-verification',
    })
    t.equal(onKept.statusCode, 403)
    t.same(strip(onKept.body), strip(onOther.body))
    const wrongPurpose = await signedInject(b.app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${kept}`, {
      purpose: 'marketing',
    })
    t.equal(json(wrongPurpose).code, 'access.purpose')
    const fields = await signedInject(b.app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${kept}?fields=phone`, {
      purpose: 'public-service',
    })
    t.equal(json(fields).code, 'access.field')
    t.equal(pop.lookupCount(kept), count)
  })

  t.test('nothing personal is readable in Redis', async (t) => {
    await signedInject(a.app, 'VN.BHXH', 'GET', '/v1/population/citizens/079178183333', { purpose: 'social-insurance' })
    await signedInject(b.app, 'VN.LOC.DNG', 'GET', '/v1/civil-status/persons/079178183333/marital-status', {
      purpose: 'public-service',
    })
    await signedInject(a.app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
    const needles = [
      '079178183333',
      '095075907487',
      'Trần Ngọc Thảo',
      'Nguyễn Quang Huy',
      'Tr\\u1ea7n',
      '2627349851',
      '019190434064',
      'Dương Diệu Trang',
      'fullName',
      'personalId',
      'soDinhDanh',
      'hoVaTen',
      'Bạc Liêu',
      'KET_HON',
      'marriage',
    ]
    const keys: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      cursor = next
      keys.push(...batch)
    } while (cursor !== '0')
    t.ok(keys.length >= 6, `${keys.length} keys written`)
    let scanned = 0
    for (const key of keys) {
      const type = await redis.type(key)
      const values: Buffer[] =
        type === 'string'
          ? [(await redis.getBuffer(key)) as Buffer]
          : type === 'set'
            ? await redis.smembersBuffer(key)
            : []
      for (const blob of [Buffer.from(key), ...values]) {
        scanned++
        for (const needle of needles) if (blob.includes(Buffer.from(needle))) t.fail(`${needle} readable in ${key}`)
      }
    }
    t.pass(`${scanned} keys and values scanned, no personal value found`)
  })
})

t.test(
  'stale-if-error: a kept record past its window answers only while the registry is down, within maxStaleSeconds',
  async (t) => {
    const sims = await sharedSimulators(t)
    const { prefix } = await testRedis(t)
    const dir = await copyConfig(t)
    const file = join(dir, 'adapters', 'population.yaml')
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace(
        '    cache: { ttlSeconds: 3600 }\n  verify:',
        '    cache: { ttlSeconds: 1 }\n  verify:'
      )
    )
    await writeFile(
      join(dir, 'gateway.yaml'),
      (await readFile(join(dir, 'gateway.yaml'), 'utf8')).replace('maxStaleSeconds: 900', 'maxStaleSeconds: 2')
    )
    const config = await loadConfig(dir, sims.env)
    t.equal(config.services.population?.operations.citizen?.cache.ttlSeconds, 1)
    const gw = await redisGateway(t, config, REDIS_URL, prefix)
    const pop = sims.population
    const get = () =>
      signedInject(gw.app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/064070607103', { purpose: 'public-service' })

    t.match(json(await get()).meta, { source: 'upstream', stale: false })
    t.match(json(await get()).meta, { source: 'reuse', stale: false })
    await new Promise((resolve) => setTimeout(resolve, 1100))
    t.match(
      json(await get()).meta,
      { source: 'upstream', stale: false },
      'past its window with the registry up: fetched again'
    )
    await new Promise((resolve) => setTimeout(resolve, 1100))
    pop.settings.failRate = 1
    t.teardown(() => {
      pop.settings.failRate = 0
    })
    const stale = await get()
    t.equal(stale.statusCode, 200)
    t.match(
      json(stale).meta,
      { source: 'reuse', stale: true },
      'registry down: the kept record answers, marked stale'
    )
    const records = gw.sink.records
    t.equal(
      records.find((r) => r.id === stale.headers['x-transaction-id'])?.stale,
      true,
      'and its transaction record says stale too'
    )
    t.ok(
      records.filter((r) => r.id !== stale.headers['x-transaction-id']).every((r) => !r.stale),
      'no other record does'
    )
    await new Promise((resolve) => setTimeout(resolve, 2100))
    const gone = await get()
    t.equal(gone.statusCode, 503, 'past maxStaleSeconds: no answer')
    t.equal(json(gone).code, 'upstream.unavailable')
  }
)
