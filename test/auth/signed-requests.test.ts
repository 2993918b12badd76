/**
 * CONTRACT §3: every rule of a signed request, and the problem code each refusal carries.
 */
import t, { type Test } from 'tap'
import { importJWK, type CryptoKey } from 'jose'
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { projectPath } from '../../core/paths.js'
import { baseClaims, sign, strangerKey, unsigned } from '../helpers/tokens.js'
import { buildTestGateway, json } from '../helpers/gateway.js'

const ID = '030075654294'
const CITIZEN = `/v1/population/citizens/${ID}`
const DNG = 'VN.LOC.DNG'

function privateJwk (agency: string): Record<string, string> {
  return JSON.parse(readFileSync(projectPath('demo', 'keys', `${agency}.private.jwk.json`), 'utf8')) as Record<
    string,
    string
  >
}
async function keyOf (agency: string, alg?: string): Promise<CryptoKey> {
  const jwk = privateJwk(agency)
  return importJWK(jwk, alg ?? jwk.alg) as Promise<CryptoKey>
}
const header = (kid = 'dng-2026-01', alg = 'ES256'): Record<string, unknown> => ({ alg, kid, typ: 'ndx+jwt' })
const citizenClaims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...baseClaims(DNG, 'GET', CITIZEN),
  purpose: 'public-service',
  ...extra,
})

async function send (
  app: FastifyInstance,
  token: string | null,
  opts: { method?: 'GET' | 'POST'; url?: string; body?: string; authorization?: string } = {}
) {
  const headers: Record<string, string> = {}
  if (opts.authorization !== undefined) headers.authorization = opts.authorization
  else if (token !== null) headers.authorization = `Bearer ${token}`
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  return app.inject({
    method: opts.method ?? 'GET',
    url: opts.url ?? CITIZEN,
    headers,
    ...(opts.body === undefined ? {} : { payload: opts.body }),
  })
}

function assertProblem (t: Test, res: Awaited<ReturnType<typeof send>>, status: number, code: string): void {
  t.equal(res.statusCode, status, `status ${status} for ${code}`)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  const body = json(res)
  t.equal(body.code, code)
  t.equal(body.type, `urn:ndx:problem:${code}`)
  t.equal(body.status, status)
  t.equal(body.transactionId, res.headers['x-transaction-id'])
  t.type(body.detail, 'string')
}

t.test('a well-signed request is served', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  const res = await send(app, await sign(header(), citizenClaims(), await keyOf(DNG)))
  t.equal(res.statusCode, 200)
  t.equal((json(res).data as Record<string, unknown>).personalId, ID)
  t.equal(sink.records.length, 1)
  t.match(sink.records[0], { client: DNG, keyId: 'dng-2026-01', outcome: 'ok', purpose: 'public-service' })
})

t.test('every allowed algorithm verifies: ES256, ES384, EdDSA, PS256, RS256', async (t) => {
  const { app } = await buildTestGateway(t)
  const verify = '/v1/population/citizens/030075654294/verify'
  const body = JSON.stringify({ fullName: 'Dương Đức Việt' })
  // EdDSA (EVN) and PS256/RS256 (Viettel's RSA key) reach the operation and are answered.
  for (const [agency, kid, alg, purpose] of [
    ['VN.EVN.HCMC', 'evnhcmc-2026-01', 'EdDSA', 'customer-verification'],
    ['VN.VIETTEL', 'viettel-2026-01', 'PS256', 'subscriber-verification'],
    ['VN.VIETTEL', 'viettel-2026-01', 'RS256', 'subscriber-verification'],
  ] as const) {
    const claims = { ...baseClaims(agency, 'POST', verify, body), purpose }
    const res = await send(app, await sign(header(kid, alg), claims, await keyOf(agency, alg)), {
      method: 'POST',
      url: verify,
      body,
    })
    t.equal(res.statusCode, 200, `${alg} accepted`)
    t.same(json(res).data, { personalId: ID, match: true, fields: { fullName: true } })
  }
  // ES384 (the auditor): the signature verifies, then the role check refuses the service call.
  const res = await send(
    app,
    await sign(
      header('ttcp-2026-01', 'ES384'),
      { ...baseClaims('VN.TTCP', 'GET', CITIZEN), purpose: 'audit' },
      await keyOf('VN.TTCP')
    )
  )
  assertProblem(t, res, 403, 'access.role')
})

t.test('auth.missing: no Authorization header, or an empty one', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  assertProblem(t, await send(app, null), 401, 'auth.missing')
  assertProblem(t, await send(app, null, { authorization: '' }), 401, 'auth.missing')
  t.equal(sink.records.length, 2, 'refusals are recorded')
  t.match(sink.records[0], {
    client: null,
    outcome: 'rejected',
    status: 401,
    code: 'auth.missing',
    route: '/v1/population/citizens/{personalId}',
  })
})

t.test('auth.malformed: not a bearer compact JWS, bad header or claims', async (t) => {
  const { app } = await buildTestGateway(t)
  const key = await keyOf(DNG)
  const cases: Array<[string, Promise<string> | string, string?]> = [
    ['Basic scheme', '', 'Basic dXNlcjpwYXNz'],
    ['two segments', '', 'Bearer abc.def'],
    ['header not JSON', `${Buffer.from('{oops').toString('base64url')}.e30.c2ln`],
    ['header is an array', `${Buffer.from('[1]').toString('base64url')}.e30.c2ln`],
    ['typ missing', sign({ alg: 'ES256', kid: 'dng-2026-01' }, citizenClaims(), key)],
    ['typ JWT', sign({ ...header(), typ: 'JWT' }, citizenClaims(), key)],
    ['kid missing', sign({ alg: 'ES256', typ: 'ndx+jwt' }, citizenClaims(), key)],
    ['crit present', sign({ ...header(), crit: ['b64'], b64: true }, citizenClaims(), key)],
    ['iss missing', sign(header(), citizenClaims({ iss: undefined }), key)],
    ['iat missing', sign(header(), citizenClaims({ iat: undefined }), key)],
    ['iat not a number', sign(header(), citizenClaims({ iat: 'now' }), key)],
    ['jti too short', sign(header(), citizenClaims({ jti: 'short' }), key)],
    ['jti with bad characters', sign(header(), citizenClaims({ jti: 'abcdefghijklmnop/+=' }), key)],
    ['jti missing', sign(header(), citizenClaims({ jti: undefined }), key)],
    ['htm missing', sign(header(), citizenClaims({ htm: undefined }), key)],
    ['bsh missing', sign(header(), citizenClaims({ bsh: undefined }), key)],
    ['exp beyond iat + 300', sign(header(), citizenClaims({ exp: Math.floor(Date.now() / 1000) + 301 }), key)],
    ['purpose not a code', sign(header(), citizenClaims({ purpose: 42 }), key)],
    ['sub empty', sign(header(), citizenClaims({ sub: '' }), key)],
  ]
  for (const [name, token, authorization] of cases) {
    const res = await send(app, await token, authorization === undefined ? {} : { authorization })
    assertProblem(t, res, 401, 'auth.malformed')
    t.comment(name)
  }
  const huge = await sign(header(), citizenClaims({ pad: 'x'.repeat(9000) }), key)
  assertProblem(t, await send(app, huge), 401, 'auth.malformed')
})

t.test(
  'auth.algorithm: none, HS256 confusion, algorithms outside the list, and an alg that does not fit the key',
  async (t) => {
    const { app } = await buildTestGateway(t)
    const publicJwk = JSON.stringify({ ...privateJwk(DNG), d: undefined })
    assertProblem(
      t,
      await send(app, unsigned({ alg: 'none', kid: 'dng-2026-01', typ: 'ndx+jwt' }, citizenClaims())),
      401,
      'auth.algorithm'
    )
    assertProblem(
      t,
      await send(app, unsigned(header('dng-2026-01', 'HS256'), citizenClaims(), publicJwk)),
      401,
      'auth.algorithm'
    )
    assertProblem(
      t,
      await send(app, unsigned(header('dng-2026-01', 'RS512'), citizenClaims(), 'x')),
      401,
      'auth.algorithm'
    )
    // EVN's key is Ed25519: a token claiming ES256 under its kid is refused before any verification.
    const evnClaims = { ...baseClaims('VN.EVN.HCMC', 'GET', CITIZEN), purpose: 'customer-verification' }
    assertProblem(
      t,
      await send(app, await sign(header('evnhcmc-2026-01', 'ES256'), evnClaims, await keyOf(DNG))),
      401,
      'auth.algorithm'
    )
  }
)

t.test('auth.unknown_client and auth.unknown_key', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  const key = await keyOf(DNG)
  assertProblem(
    t,
    await send(app, await sign(header(), citizenClaims({ iss: 'VN.NOBODY' }), key)),
    401,
    'auth.unknown_client'
  )
  assertProblem(t, await send(app, await sign(header('dng-1999-01'), citizenClaims(), key)), 401, 'auth.unknown_key')
  t.equal(sink.records[0]?.client, null, 'an unknown iss is not recorded as a client')
  t.equal(sink.records[0]?.claimedClient, 'VN.NOBODY', 'only as what it claimed')
  // CONTRACT §7 v1.1: nothing unverified is attributed, a known iss included.
  t.equal(sink.records[1]?.client, null, 'a known iss whose key is unknown is not recorded as that client')
  t.equal(sink.records[1]?.claimedClient, DNG)
  t.equal(sink.records[1]?.keyId, null)
})

t.test('auth.signature: a stranger key, altered claims, no signature', async (t) => {
  const { app } = await buildTestGateway(t)
  assertProblem(t, await send(app, await sign(header(), citizenClaims(), strangerKey())), 401, 'auth.signature')
  const good = await sign(header(), citizenClaims(), await keyOf(DNG))
  const [h, , s] = good.split('.')
  const claims = Buffer.from(JSON.stringify(citizenClaims({ purpose: 'social-insurance' }))).toString('base64url')
  const altered = `${h}.${claims}.${s}`
  assertProblem(t, await send(app, altered), 401, 'auth.signature')
  assertProblem(t, await send(app, `${h}.${good.split('.')[1]}.`), 401, 'auth.signature')
})

t.test('auth.audience: a token for another gateway', async (t) => {
  const { app } = await buildTestGateway(t)
  const key = await keyOf(DNG)
  assertProblem(
    t,
    await send(app, await sign(header(), citizenClaims({ aud: 'other-gateway' }), key)),
    401,
    'auth.audience'
  )
  assertProblem(t, await send(app, await sign(header(), citizenClaims({ aud: ['a', 'b'] }), key)), 401, 'auth.audience')
  assertProblem(t, await send(app, await sign(header(), citizenClaims({ aud: undefined }), key)), 401, 'auth.audience')
  const res = await send(app, await sign(header(), citizenClaims({ aud: ['other', 'ndx-gateway'] }), key))
  t.equal(res.statusCode, 200, 'an aud array naming this gateway is accepted')
})

t.test('auth.expired: iat outside the clock window, exp in the past', async (t) => {
  const { app } = await buildTestGateway(t)
  const key = await keyOf(DNG)
  const now = Math.floor(Date.now() / 1000)
  assertProblem(t, await send(app, await sign(header(), citizenClaims({ iat: now - 120 }), key)), 401, 'auth.expired')
  assertProblem(t, await send(app, await sign(header(), citizenClaims({ iat: now + 120 }), key)), 401, 'auth.expired')
  assertProblem(
    t,
    await send(app, await sign(header(), citizenClaims({ iat: now - 30, exp: now - 1 }), key)),
    401,
    'auth.expired'
  )
  const res = await send(app, await sign(header(), citizenClaims({ iat: now - 50, exp: now + 60 }), key))
  t.equal(res.statusCode, 200, 'within the window and before exp')
})

t.test('auth.binding: htm, htu and bsh must describe this very request', async (t) => {
  const { app } = await buildTestGateway(t)
  const key = await keyOf(DNG)
  assertProblem(t, await send(app, await sign(header(), citizenClaims({ htm: 'POST' }), key)), 401, 'auth.binding')
  assertProblem(
    t,
    await send(app, await sign(header(), citizenClaims({ htu: '/v1/population/citizens/001154711812' }), key)),
    401,
    'auth.binding'
  )
  assertProblem(
    t,
    await send(app, await sign(header(), citizenClaims(), key), { url: `${CITIZEN}?fields=fullName` }),
    401,
    'auth.binding'
  )
  assertProblem(t, await send(app, await sign(header(), citizenClaims({ htu: `https://gw.example${CITIZEN}` }), key)), 401, 'auth.binding')
  // bsh: the body the verifier sees is not the body that was signed.
  const verify = `${CITIZEN}/verify`
  const bhxh = await keyOf('VN.BHXH')
  const claims = { ...baseClaims('VN.BHXH', 'POST', verify, '{"fullName":"A"}'), purpose: 'social-insurance' }
  const res = await send(app, await sign(header('bhxh-2026-01'), claims, bhxh), {
    method: 'POST',
    url: verify,
    body: '{"fullName":"B"}',
  })
  assertProblem(t, res, 401, 'auth.binding')
})

t.test('auth.replayed: a jti is accepted once per agency', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  const token = await sign(header(), citizenClaims(), await keyOf(DNG))
  t.equal((await send(app, token)).statusCode, 200)
  assertProblem(t, await send(app, token), 401, 'auth.replayed')
  t.match(sink.records.map((r) => r.code), [null, 'auth.replayed'])
  // Another agency may happen to use the same jti.
  const jti = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).jti as string
  const enterprise = '/v1/business-registry/enterprises/2627349851'
  const other = await sign(
    header('bhxh-2026-01'),
    { ...baseClaims('VN.BHXH', 'GET', enterprise), jti, purpose: 'social-insurance' },
    await keyOf('VN.BHXH')
  )
  t.equal((await send(app, other, { url: enterprise })).statusCode, 200)
})

t.test('a jti is remembered only after the signature and claims hold', async (t) => {
  const { app } = await buildTestGateway(t)
  const jti = 'shared-jti-0123456789'
  const forged = await sign(header(), citizenClaims({ jti }), strangerKey())
  assertProblem(t, await send(app, forged), 401, 'auth.signature')
  const misdirected = await sign(
    header(),
    citizenClaims({ jti, htu: '/v1/population/citizens/001154711812' }),
    await keyOf(DNG)
  )
  assertProblem(t, await send(app, misdirected), 401, 'auth.binding')
  const genuine = await sign(header(), citizenClaims({ jti }), await keyOf(DNG))
  t.equal((await send(app, genuine)).statusCode, 200, 'the agency can still use its jti')
})

t.test('purpose: required for personal data, must be granted; optional elsewhere', async (t) => {
  const { app } = await buildTestGateway(t)
  const key = await keyOf(DNG)
  assertProblem(
    t,
    await send(app, await sign(header(), citizenClaims({ purpose: undefined }), key)),
    403,
    'access.purpose'
  )
  assertProblem(
    t,
    await send(app, await sign(header(), citizenClaims({ purpose: 'marketing' }), key)),
    403,
    'access.purpose'
  )
  const enterprise = '/v1/business-registry/enterprises/2627349851'
  const res = await send(app, await sign(header(), baseClaims(DNG, 'GET', enterprise), key), { url: enterprise })
  t.equal(res.statusCode, 200, 'the business registry holds no personal data: no purpose needed')
})

t.test('sub is kept only as a pseudonym', async (t) => {
  const { app, sink } = await buildTestGateway(t)
  const res = await send(app, await sign(header(), citizenClaims({ sub: 'officer-0042' }), await keyOf(DNG)))
  t.equal(res.statusCode, 200)
  const record = sink.records[0]
  t.type(record?.onBehalfOf, 'string')
  t.not(record?.onBehalfOf, 'officer-0042')
  t.notMatch(JSON.stringify(record), /officer-0042|030075654294/, 'neither sub nor subject appears raw in the record')
})
