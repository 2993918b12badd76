/**
 * Logs are structured and carry no personal data and no tokens: requests are logged by route template and
 * transaction id, never by raw path, headers or body.
 */
import t from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { loggerOptions } from '../../gateway/process/logger.js'
import { composeGateway } from '../../gateway/compose.js'
import { standaloneServices } from '../../gateway/services.js'
import { demoConfig, sharedSimulators, signedInject } from '../helpers/gateway.js'

t.test('no personal data and no tokens in any log line', async (t) => {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      cb()
    },
  })
  const sims = await sharedSimulators(t)
  const config = await demoConfig(t, { CIVIL_STATUS_API_KEY: 'wrong' })
  const services = standaloneServices(config)
  const app = await composeGateway({ config, services, logger: pino(loggerOptions('debug') as object, stream) })
  t.teardown(() => app.close())

  const tokens: string[] = []
  const call = async (
    agency: string,
    method: 'GET' | 'POST',
    target: string,
    opts: Parameters<typeof signedInject>[4] = {}
  ) => {
    const res = await signedInject(app, agency, method, target, opts)
    return res
  }
  await call('VN.LOC.DNG', 'GET', '/v1/population/citizens/030075654294', {
    purpose: 'public-service',
    sub: 'can-bo-0042',
  })
  await call('VN.LOC.DNG', 'GET', '/v1/population/citizens/030075654294?fields=phone', { purpose: 'public-service' })
  await call('VN.LOC.DNG', 'GET', '/v1/population/citizens/999999999999', { purpose: 'public-service' })
  await call('VN.EVN.HCMC', 'POST', '/v1/population/citizens/030075654294/verify', {
    purpose: 'customer-verification',
    body: { fullName: 'Dương Đức Việt' },
  })
  // The upstream refuses our key.
  await call('VN.LOC.DNG', 'GET', '/v1/civil-status/persons/096179024395/events', { purpose: 'public-service' })
  sims.population.settings.failRate = 1
  await call('VN.LOC.DNG', 'GET', '/v1/population/citizens/001154711812', { purpose: 'public-service' })
  sims.population.settings.failRate = 0
  const bad = await app.inject({
    method: 'GET',
    url: '/v1/population/citizens/064070607103',
    headers: { authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln' },
  })
  tokens.push('eyJhbGciOiJFUzI1NiJ9')
  t.equal(bad.statusCode, 401)

  t.ok(lines.length >= 7, `${lines.length} log lines`)
  const all = lines.join('\n')
  for (const secret of [
    '030075654294',
    '999999999999',
    '096179024395',
    '001154711812',
    '064070607103',
    'Dương',
    'Việt',
    'can-bo-0042',
    ...tokens,
  ]) {
    t.notOk(all.includes(secret), `no "${secret}" in the logs`)
  }
  t.notMatch(all, /Bearer|authorization":"[^[]/i, 'no authorization header values')
  t.notMatch(all, /eyJ[A-Za-z0-9_-]{10,}/, 'nothing that looks like a JWT')
  const txnLines = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'transaction')
  t.equal(txnLines.length, 7, 'one line per transaction')
  t.match(txnLines[0], {
    route: '/v1/population/citizens/{personalId}',
    status: 200,
    client: 'VN.LOC.DNG',
    txn: String,
  })
  t.ok(
    lines.some((l) => l.includes('"level":50') && l.includes('request failed')),
    'failures are logged for operators'
  )
})
