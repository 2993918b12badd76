/**
 * CONTRACT §5: the built-in services map native registry records to canonical fields, through the gateway
 * and the bundled simulators (native protocols: REST/JSON, SOAP 1.1, search API).
 */
import t from 'tap'
import { buildTestGateway, json, signedInject } from '../helpers/gateway.js'

t.test('population: every canonical field from its native name', async (t) => {
  const { app } = await buildTestGateway(t)
  const res = await signedInject(app, 'VN.BHXH', 'GET', '/v1/population/citizens/038085681321', {
    purpose: 'social-insurance',
  })
  t.equal(res.statusCode, 200)
  t.same(json(res).data, {
    personalId: '038085681321',
    fullName: 'Huỳnh Công Việt',
    dateOfBirth: '1985-05-24',
    gender: 'male',
    permanentAddress: 'Số 24 Hai Bà Trưng, Xã Tân Hiệp, Thanh Hóa',
    father: { personalId: '038059225871', fullName: 'Huỳnh Quang Phong' },
    mother: { personalId: '051157873572', fullName: 'Huỳnh Phương Nga' },
    spouse: null,
    maritalStatus: 'single',
    dateOfDeath: null,
  })
})

t.test('population: the full canonical record (an agency granted every field)', async (t) => {
  const { config } = await buildTestGateway(t)
  const { CODED_ADAPTERS } = await import('../../adapters/index.js')
  const adapter = CODED_ADAPTERS.population!.create(config.services.population!, { maxResponseBytes: 1 << 20 })
  t.teardown(() => adapter.close())
  const record = await adapter.load({ service: 'population', kind: 'citizen', subject: '038085681321', params: {} })
  t.same(record, {
    personalId: '038085681321',
    fullName: 'Huỳnh Công Việt',
    otherName: 'Phong',
    dateOfBirth: '1985-05-24',
    gender: 'male',
    birthRegistrationPlace: 'UBND Phường Thạch Thang, Thanh Hóa',
    placeOfOrigin: 'Quảng Ngãi',
    ethnicity: 'Nùng',
    religion: 'Không',
    nationality: 'Việt Nam',
    bloodType: 'O',
    permanentAddress: 'Số 24 Hai Bà Trưng, Xã Tân Hiệp, Thanh Hóa',
    temporaryAddress: 'Số 211 Trần Phú, Xã Phú Lộc, Đà Nẵng',
    currentAddress: 'Số 211 Trần Phú, Xã Phú Lộc, Đà Nẵng',
    householdHead: { personalId: '038059225871', fullName: 'Huỳnh Quang Phong' },
    relationToHouseholdHead: 'Con',
    father: { personalId: '038059225871', fullName: 'Huỳnh Quang Phong' },
    mother: { personalId: '051157873572', fullName: 'Huỳnh Phương Nga' },
    spouse: null,
    maritalStatus: 'single',
    phone: '0926444698',
    email: null,
    dateOfDeath: null,
  })
  const dead = await adapter.load({ service: 'population', kind: 'citizen', subject: '095075907487', params: {} })
  t.match(dead, { dateOfDeath: '2022-08-01', gender: 'male', maritalStatus: 'married' })
  const widow = await adapter.load({ service: 'population', kind: 'citizen', subject: '079178183333', params: {} })
  t.match(widow, { gender: 'female', maritalStatus: 'widowed' })
  t.equal(await adapter.load({ service: 'population', kind: 'citizen', subject: '999999999999', params: {} }), null)
})

t.test('population: an unknown citizen is record.not_found', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  const res = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/999999999999', {
    purpose: 'public-service',
  })
  t.equal(res.statusCode, 404)
  t.equal(json(res).code, 'record.not_found')
  t.match(sink.records[0], { outcome: 'not_found', status: 404 })
})

t.test('civil-status: events with types, roles and dates, oldest first', async (t) => {
  const { app } = await buildTestGateway(t)
  const res = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/civil-status/persons/030075654294/events', {
    purpose: 'public-service',
  })
  t.equal(res.statusCode, 200)
  const data = json(res).data as {
    personalId: string
    events: Array<{ type: string; registeredOn: string; registrationNo: string }>
  }
  t.equal(data.personalId, '030075654294')
  t.same(data.events.map((e) => [e.type, e.registeredOn, e.registrationNo]), [
    ['birth', '1975-09-20', '1/1975/KS'],
    ['marriage', '1999-01-13', '3/1999/KH'],
    ['birth', '2004-01-26', '5/2004/KS'],
    ['birth', '2011-01-17', '4/2011/KS'],
  ], 'sorted by registration date, not registry order')
  t.same(data.events[1], {
    type: 'marriage',
    registrationNo: '3/1999/KH',
    registeredOn: '1999-01-13',
    authority: 'UBND Phường Bến Nghé, Hải Dương',
    parties: [
      { role: 'husband', personalId: '030075654294', fullName: 'Dương Đức Việt' },
      { role: 'wife', personalId: '096179024395', fullName: 'Hoàng Phương Nga' },
    ],
  })
  t.same(
    (data.events[2] as unknown as { parties: Array<{ role: string }> }).parties.map((p) => p.role),
    ['self', 'father', 'mother']
  )
})

t.test('civil-status: divorce and death events', async (t) => {
  const { app } = await buildTestGateway(t)
  const divorced = json(
    await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/civil-status/persons/064070607103/events', {
      purpose: 'public-service',
    })
  ).data as { events: Array<{ type: string }> }
  t.same(divorced.events.map((e) => e.type).filter((x) => x !== 'birth'), ['marriage', 'divorce'])
  const dead = json(
    await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/civil-status/persons/095075907487/events', {
      purpose: 'public-service',
    })
  ).data as { events: Array<{ type: string; registeredOn: string; parties: unknown[] }> }
  t.match(
    dead.events.find((e) => e.type === 'death'),
    { registeredOn: '2022-08-03', parties: [{ role: 'self', personalId: '095075907487' }] }
  )
})

t.test('civil-status: marital status derived from events', async (t) => {
  const { app } = await buildTestGateway(t)
  const status = async (id: string) =>
    json(
      await signedInject(app, 'VN.LOC.DNG', 'GET', `/v1/civil-status/persons/${id}/marital-status`, {
        purpose: 'public-service',
      })
    ).data
  t.same(await status('030075654294'), {
    personalId: '030075654294',
    maritalStatus: 'married',
    since: '1999-01-13',
    spouse: { personalId: '096179024395', fullName: 'Hoàng Phương Nga' },
  })
  t.same(await status('064070607103'), {
    personalId: '064070607103',
    maritalStatus: 'divorced',
    since: '1998-05-15',
    spouse: null,
  })
  t.same(
    await status('079178183333'),
    { personalId: '079178183333', maritalStatus: 'widowed', since: '2022-08-03', spouse: null },
    "from the spouse's death registration"
  )
  t.same(await status('038085681321'), {
    personalId: '038085681321',
    maritalStatus: 'single',
    since: null,
    spouse: null,
  })
  const unknown = await signedInject(
    app,
    'VN.LOC.DNG',
    'GET',
    '/v1/civil-status/persons/999999999999/marital-status',
    { purpose: 'public-service' }
  )
  t.equal(unknown.statusCode, 404)
  t.equal(json(unknown).code, 'record.not_found', 'the SOAP fault KHONG_TIM_THAY')
})

t.test('civil-status: derived status agrees with the population register for every citizen sampled', async (t) => {
  const { app } = await buildTestGateway(t)
  const { registryData } = await import('../../simulators/data.js')
  const map: Record<string, string> = {
    'Độc thân': 'single',
    'Đã kết hôn': 'married',
    'Ly hôn': 'divorced',
    Góa: 'widowed',
  }
  const sample = [...registryData().citizens.values()].filter((_, i) => i % 250 === 0)
  let agree = 0
  for (const c of sample) {
    const res = await signedInject(
      app,
      'VN.LOC.DNG',
      'GET',
      `/v1/civil-status/persons/${c.soDinhDanh as string}/marital-status?fields=maritalStatus`,
      { purpose: 'public-service' }
    )
    if ((json(res).data as { maritalStatus: string }).maritalStatus === map[c.tinhTrangHonNhan as string]) agree++
  }
  t.equal(agree, sample.length, `${sample.length} citizens`)
})

t.test('business registry: an enterprise, a branch, and each status', async (t) => {
  const { app } = await buildTestGateway(t)
  const get = async (code: string) =>
    signedInject(app, 'VN.LOC.DNG', 'GET', `/v1/business-registry/enterprises/${code}`)
  const res = await get('2627349851')
  t.same(json(res).data, {
    enterpriseCode: '2627349851',
    name: 'CÔNG TY TNHH PHẦN MỀM VIỆT TIẾN DU LỊCH',
    englishName: 'TRAVEL LOGISTICS COMPANY LIMITED',
    shortName: 'PMVTDL CO., LTD',
    type: 'Công ty trách nhiệm hữu hạn một thành viên',
    status: 'active',
    foundedOn: '2021-11-12',
    headOfficeAddress: 'Số 129 Nguyễn Huệ, Phường 2, Phú Thọ',
    legalRepresentatives: [{ fullName: 'Dương Diệu Trang', personalId: '019190434064', title: 'Giám đốc' }],
    charterCapitalVnd: 462300000000,
    businessLines: [
      { code: '4933', name: 'Vận tải hàng hóa bằng đường bộ', main: true },
      { code: '1020', name: 'Chế biến, bảo quản thủy sản và các sản phẩm từ thủy sản', main: false },
      { code: '4711', name: 'Bán lẻ lương thực, thực phẩm trong cửa hàng kinh doanh tổng hợp', main: false },
      { code: '7911', name: 'Đại lý du lịch', main: false },
    ],
  })
  t.match(json(await get('5867634713-001')).data, {
    enterpriseCode: '5867634713-001',
    status: 'suspended',
    englishName: null,
    foundedOn: '2028-10-21',
  })
  t.match(json(await get('5867634713')).data, { status: 'suspended' })
  t.match(json(await get('2984421128')).data, { status: 'dissolved' })
  const none = await get('0000000000')
  t.equal(none.statusCode, 404)
  t.equal(json(none).code, 'record.not_found', 'tongSo 0 means no such enterprise')
  const bad = await get('12345-1')
  t.equal(json(bad).code, 'request.invalid')
})

t.test('per-agency field grants apply to enterprises too', async (t) => {
  const { app } = await buildTestGateway(t)
  const res = await signedInject(app, 'VN.EVN.HCMC', 'GET', '/v1/business-registry/enterprises/2627349851')
  t.same(Object.keys(json(res).data as object), ['enterpriseCode', 'name', 'status', 'headOfficeAddress'])
})
