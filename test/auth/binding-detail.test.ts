/**
 * `auth.binding` says what the gateway saw (CONTRACT §3 v1.1): the method and target it received and the
 * bsh it computed, so a client can find its own signing mistake. Nothing secret is in it.
 */
import t from 'tap'
import { bodyHash } from '../../sdk/index.js'
import { buildTestGateway, json, signedInject } from '../helpers/gateway.js'

const VERIFY = '/v1/population/citizens/030075654294/verify'

t.test('an auth.binding refusal names the method, target and body hash the gateway saw', async (t) => {
  const { app } = await buildTestGateway(t)
  const call = (sign: Record<string, unknown>) =>
    signedInject(app, 'VN.EVN.HCMC', 'POST', VERIFY, {
      body: { fullName: 'x' }, purpose: 'customer-verification', sign,
    })

  const method = json(await call({ method: 'PUT' }))
  t.equal(method.code, 'auth.binding')
  t.match(method.detail, /htm .*received POST/)

  const target = json(await call({ target: '/v1/population/citizens/001154711812/verify' }))
  t.equal(target.code, 'auth.binding')
  t.match(target.detail, `received "${VERIFY}"`)

  const body = json(await call({ body: '{"fullName":"y"}' }))
  t.equal(body.code, 'auth.binding')
  t.match(body.detail, `computed ${bodyHash('{"fullName":"x"}')} (16 bytes)`)

  const long = `${VERIFY}?x=${'a'.repeat(2000)}`
  const clipped = json(await signedInject(app, 'VN.EVN.HCMC', 'GET', long, { sign: { target: '/v1/x' } }))
  t.equal(clipped.code, 'auth.binding')
  t.ok((clipped.detail as string).length < 700, 'a long target is quoted clipped')
})
