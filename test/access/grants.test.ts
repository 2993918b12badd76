/**
 * CONTRACT §2 grants and §4: operations, roles, purposes and fields; replies hold granted fields only.
 */
import t from 'tap'
import { buildTestGateway, json, signedInject } from '../helpers/gateway.js'

const ID = '030075654294'
const CITIZEN = `/v1/population/citizens/${ID}`

t.test('a reply holds exactly the granted fields, absent values as null', async (t) => {
  const { app } = await buildTestGateway(t)
  const dng = await signedInject(app, 'VN.LOC.DNG', 'GET', CITIZEN, { purpose: 'public-service' })
  t.equal(dng.statusCode, 200)
  t.same(Object.keys(json(dng).data as object), [
    'personalId',
    'fullName',
    'dateOfBirth',
    'gender',
    'permanentAddress',
    'currentAddress',
    'householdHead',
    'relationToHouseholdHead',
  ])
  const bhxh = await signedInject(app, 'VN.BHXH', 'GET', CITIZEN, { purpose: 'social-insurance' })
  t.same(json(bhxh).data, {
    personalId: ID,
    fullName: 'Dương Đức Việt',
    dateOfBirth: '1975-08-14',
    gender: 'male',
    permanentAddress: 'Số 27 Trần Phú, Xã Phú Lộc, Hải Dương',
    father: null,
    mother: null,
    spouse: { personalId: '096179024395', fullName: 'Hoàng Phương Nga' },
    maritalStatus: 'married',
    dateOfDeath: null,
  })
  t.equal(bhxh.headers['cache-control'], 'no-store')
  t.match(bhxh.headers['content-type'], /^application\/json/)
  t.equal(
    json(bhxh).meta && (json(bhxh).meta as Record<string, unknown>).transactionId,
    bhxh.headers['x-transaction-id']
  )
})

t.test('?fields narrows the reply; unknown is request.invalid, not granted is access.field', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  const narrow = await signedInject(app, 'VN.LOC.DNG', 'GET', `${CITIZEN}?fields=fullName,dateOfBirth`, {
    purpose: 'public-service',
  })
  t.same(json(narrow).data, { fullName: 'Dương Đức Việt', dateOfBirth: '1975-08-14' })
  t.same(sink.records[0]?.fields, ['fullName', 'dateOfBirth'], 'the record lists the fields returned')

  const unknown = await signedInject(app, 'VN.LOC.DNG', 'GET', `${CITIZEN}?fields=fullName,shoeSize`, {
    purpose: 'public-service',
  })
  t.equal(unknown.statusCode, 400)
  t.match(json(unknown), { code: 'request.invalid', errors: [{ in: 'query', name: 'fields', reason: /shoeSize/ }] })

  const empty = await signedInject(app, 'VN.LOC.DNG', 'GET', `${CITIZEN}?fields=`, { purpose: 'public-service' })
  t.equal(json(empty).code, 'request.invalid')

  const refused = await signedInject(app, 'VN.LOC.DNG', 'GET', `${CITIZEN}?fields=fullName,phone,religion`, {
    purpose: 'public-service',
  })
  t.equal(refused.statusCode, 403)
  t.match(json(refused), { code: 'access.field', detail: 'Not granted: phone, religion' })
  t.notMatch(refused.body, /Dương/, 'a refusal discloses nothing of the record')
  t.match(sink.records.map((r) => r.outcome), ['ok', 'rejected', 'rejected', 'denied'])
})

t.test('unknown or repeated query parameters are refused', async (t) => {
  const { app } = await buildTestGateway(t)
  const unknown = await signedInject(app, 'VN.LOC.DNG', 'GET', `${CITIZEN}?expand=all`, { purpose: 'public-service' })
  t.match(json(unknown), {
    code: 'request.invalid',
    errors: [{ in: 'query', name: 'expand', reason: 'is not a parameter of this operation' }],
  })
  const twice = await signedInject(app, 'VN.LOC.DNG', 'GET', `${CITIZEN}?fields=fullName&fields=phone`, {
    purpose: 'public-service',
  })
  t.match(json(twice), { code: 'request.invalid', errors: [{ name: 'fields', reason: 'is given more than once' }] })
  const badEncoding = await signedInject(app, 'VN.LOC.DNG', 'GET', `${CITIZEN}?fields=%E0%A4%A`, {
    purpose: 'public-service',
  })
  t.equal(json(badEncoding).code, 'request.invalid')
})

t.test('params are checked against the operation', async (t) => {
  const { app } = await buildTestGateway(t)
  for (const id of ['12345', '0300756542941', '03007565429x', '٠٣٠٠٧٥٦٥٤٢٩٤']) {
    const res = await signedInject(app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${encodeURIComponent(id)}`, {
      purpose: 'public-service',
    })
    t.equal(res.statusCode, 400, `${id} refused`)
    t.match(json(res), { code: 'request.invalid', errors: [{ in: 'path', name: 'personalId', reason: /pattern/ }] })
  }
})

t.test('an operation not granted is access.denied, before its input is even read', async (t) => {
  const { app } = await buildTestGateway(t)
  const res = await signedInject(app, 'VN.VIETTEL', 'GET', '/v1/population/citizens/bad-id', {
    purpose: 'subscriber-verification',
  })
  t.equal(res.statusCode, 403)
  t.equal(json(res).code, 'access.denied')
  const events = await signedInject(app, 'VN.EVN.HCMC', 'GET', `/v1/civil-status/persons/${ID}/events`, {
    purpose: 'customer-verification',
  })
  t.equal(json(events).code, 'access.denied')
})

t.test('roles: service calls need consumer; auditors and sources cannot read registries', async (t) => {
  const { app } = await buildTestGateway(t)
  for (const agency of ['VN.TTCP', 'VN.BCA.C06', 'VN.NDXP.OPS']) {
    const res = await signedInject(app, agency, 'GET', CITIZEN, { purpose: 'public-service' })
    t.equal(res.statusCode, 403)
    t.equal(json(res).code, 'access.role', agency)
  }
})

t.test('verify: only granted fields may be claimed; answers are booleans', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  const target = `${CITIZEN}/verify`
  const ok = await signedInject(app, 'VN.EVN.HCMC', 'POST', target, {
    purpose: 'customer-verification',
    body: {
      fullName: '  DƯƠNG   ĐỨC VIỆT ',
      dateOfBirth: '1975-08-14',
      permanentAddress: 'Số 27 Trần Phú, Xã Phú Lộc, Hải Dương',
    },
  })
  t.same(json(ok).data, {
    personalId: ID,
    match: true,
    fields: { fullName: true, dateOfBirth: true, permanentAddress: true },
  })
  const wrong = await signedInject(app, 'VN.EVN.HCMC', 'POST', target, {
    purpose: 'customer-verification',
    body: { dateOfBirth: '1975-08-15' },
  })
  t.same(json(wrong).data, { personalId: ID, match: false, fields: { dateOfBirth: false } })
  t.notMatch(wrong.body, /1975-08-14/, 'the true value is never disclosed')
  const refused = await signedInject(app, 'VN.EVN.HCMC', 'POST', target, {
    purpose: 'customer-verification',
    body: { phone: '0990429373' },
  })
  t.equal(refused.statusCode, 403)
  t.equal(json(refused).code, 'access.field')
  const unknown = await signedInject(app, 'VN.EVN.HCMC', 'POST', target, {
    purpose: 'customer-verification',
    body: { shoeSize: 42 },
  })
  t.match(json(unknown), {
    code: 'request.invalid',
    errors: [{ in: 'body', name: 'shoeSize', reason: 'is not allowed' }],
  })
  const wrongType = await signedInject(app, 'VN.EVN.HCMC', 'POST', target, {
    purpose: 'customer-verification',
    body: { dateOfBirth: 19750814 },
  })
  t.match(json(wrongType), { code: 'request.invalid', errors: [{ in: 'body', name: 'dateOfBirth' }] })
  const empty = await signedInject(app, 'VN.EVN.HCMC', 'POST', target, { purpose: 'customer-verification', body: {} })
  t.equal(json(empty).code, 'request.invalid')
  const notJson = await signedInject(app, 'VN.EVN.HCMC', 'POST', target, {
    purpose: 'customer-verification',
    body: 'fullName=X',
    headers: { 'content-type': 'text/plain' },
  })
  t.equal(notJson.statusCode, 415)
  t.equal(json(notJson).code, 'request.media_type')
  t.same(
    sink.records[0]?.fields,
    ['fullName', 'dateOfBirth', 'permanentAddress'],
    'the record names the verified fields'
  )
})

t.test('a reply serializer drops anything outside the declared schema', async (t) => {
  const { app } = await buildTestGateway(t)
  const op = app.gateway.current().operations.get('population.citizen')
  t.ok(op)
  const meta = {
    transactionId: 't', service: 'population', operation: 'citizen', source: 'reuse', retrievedAt: 'r', stale: false,
  }
  const data = { fullName: 'A', secretNote: 'leak', __proto__: { x: 1 } }
  const text = op!.serialize({ data, meta: { ...meta, extra: 'no' } })
  t.same(JSON.parse(text), { data: { fullName: 'A' }, meta })
})
