/**
 * "Who looked at this person" finds every attempt, whatever refused it (CONTRACT §7 v1.1): a replayed, an
 * expired, a mis-bound and a forged token on a personal id are recorded against that person, as is a call
 * refused by the agency's quota. Only the served call was found before.
 */
import t from 'tap'
import { buildTestGateway, demoSigner, signedInject } from '../helpers/gateway.js'
import { baseClaims, sign, strangerKey } from '../helpers/tokens.js'
import { signRequest } from '../../sdk/index.js'

const PID = '030075654294'
const TARGET = `/v1/population/citizens/${PID}`

t.test('refusals before and after the signature are recorded against the subject', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  const ref = app.pseudonymizer.subjectRef(PID)
  const signer = await demoSigner('VN.LOC.DNG')
  const send = (token: string) =>
    app.inject({ method: 'GET', url: TARGET, headers: { authorization: `Bearer ${token}` } })

  const token = await signRequest(signer, { method: 'GET', target: TARGET, purpose: 'public-service' })
  await send(token)
  const replayed = await send(token)
  t.equal(replayed.json().code, 'auth.replayed')
  const expired = await signRequest(signer, {
    method: 'GET',
    target: TARGET,
    purpose: 'public-service',
    iat: Math.floor(Date.now() / 1000) - 3600,
  })
  t.equal((await send(expired)).json().code, 'auth.expired')
  const misbound = await signRequest(signer, {
    method: 'GET',
    target: `${TARGET}?fields=fullName`,
    purpose: 'public-service',
  })
  t.equal((await send(misbound)).json().code, 'auth.binding')
  const forged = await sign(
    { alg: 'ES256', kid: 'dng-2026-01', typ: 'ndx+jwt' },
    { ...baseClaims('VN.LOC.DNG', 'GET', TARGET), purpose: 'public-service' },
    strangerKey()
  )
  t.equal((await send(forged)).json().code, 'auth.signature')
  const denied = await signedInject(app, 'VN.LOC.DNG', 'GET', TARGET, { purpose: 'tax-assessment' })
  t.equal(denied.json().code, 'access.purpose')

  const codes = sink.records.filter((r) => r.subjectRef === ref).map((r) => r.code)
  t.same(
    codes,
    [null, 'auth.replayed', 'auth.expired', 'auth.binding', 'auth.signature', 'access.purpose'],
    'all six attempts carry the subject'
  )
})
