/**
 * CONTRACT §9: the simulators speak their registries' native protocols, need their keys, and can be made
 * slow or failing — so adapters are tested against something that behaves like the real systems.
 */
import t from 'tap'
import { request } from 'undici'
import { sharedSimulators } from '../helpers/gateway.js'

const SOAP = (id: string) => `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ht="urn:hotich:v1"><soap:Body><ht:TraCuuSuKien><ht:soDinhDanh>${id}</ht:soDinhDanh></ht:TraCuuSuKien></soap:Body></soap:Envelope>`

t.test('population: REST/JSON with X-Api-Key', async (t) => {
  const { env } = await sharedSimulators(t)
  const base = env.POPULATION_URL
  const ok = await request(`${base}/api/v1/cong-dan/030075654294`, { headers: { 'x-api-key': 'demo-population-key' } })
  t.equal(ok.statusCode, 200)
  t.match(ok.headers['content-type'], /^application\/json/)
  t.match(await ok.body.json(), {
    soDinhDanh: '030075654294',
    hoVaTen: 'Dương Đức Việt',
    ngaySinh: '14/08/1975',
    gioiTinh: 'Nam',
  })
  const missing = await request(`${base}/api/v1/cong-dan/999999999999`, {
    headers: { 'x-api-key': 'demo-population-key' },
  })
  t.equal(missing.statusCode, 404)
  t.match(await missing.body.json(), { maLoi: 'KHONG_TIM_THAY' })
  const noKey = await request(`${base}/api/v1/cong-dan/030075654294`)
  t.equal(noKey.statusCode, 401)
  await noKey.body.dump()
  const wrongPath = await request(`${base}/api/v2/cong-dan/030075654294`, {
    headers: { 'x-api-key': 'demo-population-key' },
  })
  t.equal(wrongPath.statusCode, 404)
  t.match(
    await wrongPath.body.json(),
    { maLoi: 'DUONG_DAN_KHONG_TON_TAI' },
    'an unknown route is not "no such citizen"'
  )
})

t.test('civil-status: SOAP 1.1 with SOAPAction, faults as HTTP 500', async (t) => {
  const { env } = await sharedSimulators(t)
  const url = `${env.CIVIL_STATUS_URL}/ws/hotich`
  const headers = {
    'content-type': 'text/xml; charset=utf-8',
    soapaction: '"urn:hotich:v1#TraCuuSuKien"',
    'x-api-key': 'demo-civil-status-key',
  }
  const ok = await request(url, { method: 'POST', headers, body: SOAP('030075654294') })
  t.equal(ok.statusCode, 200)
  t.match(ok.headers['content-type'], /^text\/xml/)
  const xml = await ok.body.text()
  t.match(xml, /<TraCuuSuKienResponse xmlns="urn:hotich:v1"><suKien><loai>KHAI_SINH<\/loai><soDangKy>1\/1975\/KS<\/soDangKy>/)
  t.equal(xml.match(/<suKien>/g)?.length, 4)
  const unknown = await request(url, { method: 'POST', headers, body: SOAP('999999999999') })
  t.equal(unknown.statusCode, 500)
  t.match(await unknown.body.text(), /<soap:Fault><faultcode>KHONG_TIM_THAY<\/faultcode>/)
  const action = await request(url, {
    method: 'POST',
    headers: { ...headers, soapaction: '"urn:other#Op"' },
    body: SOAP('030075654294'),
  })
  t.match(await action.body.text(), /<faultcode>soap:Client<\/faultcode>/)
  const broken = await request(url, { method: 'POST', headers, body: '<soap:Envelope><unclosed>' })
  t.equal(broken.statusCode, 500)
  t.match(await broken.body.text(), /soap:Client/)
  const noKey = await request(url, {
    method: 'POST',
    headers: { ...headers, 'x-api-key': 'nope' },
    body: SOAP('030075654294'),
  })
  t.equal(noKey.statusCode, 401)
  await noKey.body.dump()
  const wsdl = await request(`${url}?wsdl`)
  t.match(await wsdl.body.text(), /soapAction="urn:hotich:v1#TraCuuSuKien"/)
})

t.test('business registry: search API with a bearer key', async (t) => {
  const { env } = await sharedSimulators(t)
  const base = `${env.BUSINESS_REGISTRY_URL}/api/doanh-nghiep`
  const auth = { authorization: 'Bearer demo-business-registry-key' }
  const ok = await request(`${base}?maSo=2627349851`, { headers: auth })
  t.match(await ok.body.json(), { tongSo: 1, ketQua: [{ maSoDoanhNghiep: '2627349851' }] })
  const none = await request(`${base}?maSo=0000000000`, { headers: auth })
  t.same(await none.body.json(), { tongSo: 0, ketQua: [] })
  const noKey = await request(`${base}?maSo=2627349851`)
  t.equal(noKey.statusCode, 401)
  t.match(noKey.headers['www-authenticate'], /^Bearer/)
  await noKey.body.dump()
  const noCode = await request(base, { headers: auth })
  t.equal(noCode.statusCode, 400)
  await noCode.body.dump()
})

t.test('latency and failure rate are honoured, and lookups are counted', async (t) => {
  const { env, population } = await sharedSimulators(t)
  const before = population.lookupCount('038085681321')
  population.settings.latencyMs = 150
  const started = performance.now()
  const slow = await request(`${env.POPULATION_URL}/api/v1/cong-dan/038085681321`, {
    headers: { 'x-api-key': 'demo-population-key' },
  })
  await slow.body.dump()
  t.ok(performance.now() - started >= 140, 'answered after the added latency')
  population.settings.latencyMs = 0
  population.settings.failRate = 1
  const failing = await request(`${env.POPULATION_URL}/api/v1/cong-dan/038085681321`, {
    headers: { 'x-api-key': 'demo-population-key' },
  })
  t.equal(failing.statusCode, 503)
  t.match(failing.headers['content-type'], /text\/html/)
  await failing.body.dump()
  population.settings.failRate = 0
  t.equal(
    population.lookupCount('038085681321'),
    before + 1,
    'a request failed before reaching the registry is not a lookup'
  )
})
