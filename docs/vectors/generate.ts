/**
 * Writes docs/vectors/vectors.json: signing test vectors for agencies writing their own client.
 * Run once with `npx tsx docs/vectors/generate.ts` (the keys are fresh each run, so the file is committed
 * and the suite checks it: test/clients/vectors.test.ts). The keys are published test keys: never use them.
 */
import { writeFile } from 'node:fs/promises'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { bodyHash, generateAgencyKey, signerFromJwk, signRequest, type SigningAlgorithm } from '../../sdk/index.js'

const ISS = 'VN.EXAMPLE'
const IAT = 1795000000 // 2026-11-18T08:26:40Z; verify with this as "now"

interface Case {
  name: string
  alg: SigningAlgorithm
  method: string
  target: string
  body?: string
  purpose?: string
  sub?: string
  exp?: number
  /** Targets a client might send instead, each refused with auth.binding. */
  wrongTargets?: string[]
}

const CASES: Case[] = [
  {
    name: 'GET, no query, empty body',
    alg: 'ES256',
    method: 'GET',
    target: '/v1/population/citizens/030075654294',
    purpose: 'public-service',
  },
  {
    name: 'GET with a query holding percent-encoded reserved characters (: + ,): htu is the target exactly as sent',
    alg: 'ES256',
    method: 'GET',
    target: '/v1/audit/counts?from=2026-11-24T00%3A00%3A00%2B07%3A00&groupBy=client%2Coutcome',
    wrongTargets: [
      '/v1/audit/counts?from=2026-11-24T00:00:00+07:00&groupBy=client,outcome',
      '/v1/audit/counts?from=2026-11-24T00%3a00%3a00%2b07%3a00&groupBy=client%2coutcome',
      '/v1/audit/counts?groupBy=client%2Coutcome&from=2026-11-24T00%3A00%3A00%2B07%3A00',
    ],
  },
  {
    name: 'GET with non-ASCII in the query: percent-encoded UTF-8, signed as sent',
    alg: 'EdDSA',
    method: 'GET',
    target: '/v1/audit/transactions?client=VN.LOC.DNG&note=%C4%90%C3%A0%20N%E1%BA%B5ng',
    sub: 'cán bộ Trần Thị Bình',
    wrongTargets: [
      '/v1/audit/transactions?client=VN.LOC.DNG&note=Đà Nẵng',
      '/v1/audit/transactions?client=VN.LOC.DNG&note=%C4%90%C3%A0+N%E1%BA%B5ng',
    ],
  },
  {
    name: 'POST with a UTF-8 JSON body: bsh is the SHA-256 of the bytes sent',
    alg: 'RS256',
    method: 'POST',
    target: '/v1/population/citizens/030075654294/verify',
    body: '{"fullName":"Dương Đức Việt","dateOfBirth":"1975-08-14"}',
    purpose: 'customer-verification',
    exp: 120,
  },
  {
    name: 'POST whose body differs only in whitespace from another: a different bsh',
    alg: 'ES256',
    method: 'POST',
    target: '/v1/notifications',
    body: '{ "service": "population", "subject": "030075654294", "event": "updated" }',
  },
]

const keys: Record<string, unknown> = {}
const vectors: unknown[] = []
for (const alg of [...new Set(CASES.map((c) => c.alg))]) {
  const kid = `example-${alg.toLowerCase()}`
  keys[alg] = await generateAgencyKey(kid, alg)
}
for (const [i, c] of CASES.entries()) {
  const { privateJwk, publicJwk } = keys[c.alg] as Awaited<ReturnType<typeof generateAgencyKey>>
  const signer = await signerFromJwk(ISS, privateJwk)
  const jti = `vector-${String(i + 1).padStart(2, '0')}-0123456789abcdef`
  const token = await signRequest(signer, {
    method: c.method,
    target: c.target,
    iat: IAT,
    jti,
    ...(c.body === undefined ? {} : { body: c.body }),
    ...(c.purpose === undefined ? {} : { purpose: c.purpose }),
    ...(c.sub === undefined ? {} : { sub: c.sub }),
    ...(c.exp === undefined ? {} : { expiresIn: c.exp }),
  })
  vectors.push({
    name: c.name,
    key: { alg: c.alg, kid: privateJwk.kid, publicJwk, privateJwk },
    request: {
      method: c.method,
      target: c.target,
      body: c.body ?? '',
      bodyBase64: Buffer.from(c.body ?? '', 'utf8').toString('base64'),
    },
    bsh: bodyHash(c.body),
    header: decodeProtectedHeader(token),
    claims: decodeJwt(token),
    token,
    ...(c.wrongTargets === undefined ? {} : { wrongTargets: c.wrongTargets }),
  })
}

await writeFile(new URL('./vectors.json', import.meta.url), JSON.stringify({
  description: 'ndx-gateway signing test vectors (CONTRACT §3). Published TEST keys: never use them for anything else.',
  gateway: {
    id: 'ndx-gateway', verifyAt: IAT, note: 'verify with the clock at verifyAt (iat); every token verifies once (jti)',
  },
  iss: ISS,
  emptyBodyBsh: bodyHash(undefined),
  vectors,
}, null, 2) + '\n')
