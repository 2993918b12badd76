/**
 * A corpus of malformed and hostile requests, made deterministically: broken and forged tokens, path
 * tricks, bad bodies and queries. Each entry is a raw HTTP request; none of them may succeed.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto'
import { CompactSign, type CryptoKey } from 'jose'
import { bodyHash, newJti, signRequest, type Signer } from '../../sdk/index.js'

export interface HostileRequest {
  readonly name: string
  readonly method: string
  /** Sent exactly as written (no normalisation). */
  readonly target: string
  readonly headers: Array<[string, string]>
  readonly body?: Buffer
}

const ID = '030075654294'
const CITIZEN = `/v1/population/citizens/${ID}`
const VERIFY = `${CITIZEN}/verify`
const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

/** A small deterministic PRNG (mulberry32), so the corpus is the same on every run. */
function prng (seed: number): () => number {
  return () => {
    seed |= 0; seed = (seed + 0x6D2B79F5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `setup` are ordinary requests sent first (they succeed); `hostile` are the corpus proper. */
export async function buildCorpus (
  signer: Signer,
  verifier: Signer
): Promise<{ setup: HostileRequest[]; hostile: HostileRequest[] }> {
  const rand = prng(20261124)
  const out: HostileRequest[] = []
  const add = (
    name: string,
    method: string,
    target: string,
    headers: Array<[string, string]>,
    body?: string | Buffer
  ): void => {
    out.push({
      name,
      method,
      target,
      headers,
      ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? body : Buffer.from(body) }),
    })
  }
  const signed = async (
    method: string,
    target: string,
    body?: string,
    extra: Record<string, unknown> = {}
  ): Promise<string> =>
    signRequest(signer, {
      method,
      target,
      purpose: 'public-service',
      ...(body === undefined ? {} : { body }),
      ...extra,
    })
  const auth = (token: string): [string, string] => ['authorization', `Bearer ${token}`]
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    iss: signer.agencyId,
    aud: 'ndx-gateway',
    iat: Math.floor(Date.now() / 1000),
    jti: newJti(),
    htm: 'GET',
    htu: CITIZEN,
    bsh: bodyHash(undefined),
    purpose: 'public-service',
    ...over,
  })
  const header = { alg: signer.alg, kid: signer.kid, typ: 'ndx+jwt' }
  const signWith = (
    h: Record<string, unknown>,
    c: Record<string, unknown>,
    key: CryptoKey | ReturnType<typeof generateKeyPairSync>['privateKey'] = signer.key as CryptoKey
  ): Promise<string> =>
    new CompactSign(Buffer.from(JSON.stringify(c))).setProtectedHeader(h as { alg: string }).sign(key as CryptoKey)

  // Tokens: truncated at every kind of position.
  const good = await signed('GET', CITIZEN)
  for (let i = 0; i < 300; i++) {
    add(`token truncated at ${i}`, 'GET', CITIZEN, [auth(good.slice(0, Math.floor(rand() * (good.length - 1))))])
  }
  // Tokens: one character flipped (signature, payload, header).
  for (let i = 0; i < 250; i++) {
    const at = Math.floor(rand() * good.length)
    const c = good[at] === 'A' ? 'B' : good[at] === '.' ? 'x' : 'A'
    add(`token byte ${at} altered`, 'GET', CITIZEN, [auth(good.slice(0, at) + c + good.slice(at + 1))])
  }
  // Tokens: re-signed claims (a stranger's key, or claims the gateway must refuse).
  const claimVariants: Array<[string, Record<string, unknown>]> = [
    ['aud other', { aud: 'other' }],
    ['aud array without gateway', { aud: ['x'] }],
    ['iss unknown', { iss: 'VN.EVIL' }],
    ['iss number', { iss: 7 }],
    ['iss array', { iss: [signer.agencyId] }],
    ['iat string', { iat: 'now' }],
    ['iat far past', { iat: 1 }],
    ['iat far future', { iat: 9_999_999_999 }],
    ['iat huge', { iat: 1e300 }],
    ['iat negative', { iat: -5 }],
    ['exp past', { exp: 1 }],
    ['exp long', { exp: Math.floor(Date.now() / 1000) + 3600 }],
    ['exp string', { exp: 'later' }],
    ['jti short', { jti: 'x' }],
    ['jti long', { jti: 'a'.repeat(500) }],
    ['jti unicode', { jti: 'ĵŧï'.repeat(8) }],
    ['jti number', { jti: 1234567890123456 }],
    ['htm lowercase', { htm: 'get' }],
    ['htm POST', { htm: 'POST' }],
    ['htu absolute', { htu: `http://gw${CITIZEN}` }],
    ['htu other subject', { htu: '/v1/population/citizens/001154711812' }],
    ['htu trailing slash', { htu: `${CITIZEN}/` }],
    ['bsh wrong', { bsh: bodyHash('x') }],
    ['bsh missing', { bsh: undefined }],
    ['purpose object', { purpose: { p: 1 } }],
    ['purpose ungranted', { purpose: 'marketing' }],
    ['purpose missing', { purpose: undefined }],
    ['sub huge', { sub: 'x'.repeat(5000) }],
    ['sub number', { sub: 5 }],
    [
      'no claims',
      {
        iss: undefined,
        aud: undefined,
        iat: undefined,
        jti: undefined,
        htm: undefined,
        htu: undefined,
        bsh: undefined,
      },
    ],
  ]
  for (const [name, over] of claimVariants) {
    add(`claims ${name} (agency key)`, 'GET', CITIZEN, [auth(await signWith(header, claims(over)))])
    add(`claims ${name} (stranger key)`, 'GET', CITIZEN, [auth(await signWith(header, claims(over), stranger))])
  }
  add('valid claims, stranger key', 'GET', CITIZEN, [auth(await signWith(header, claims(), stranger))])
  // Tokens: algorithm confusion and header games.
  const publicJwk = JSON.stringify({ kty: 'EC' })
  for (const alg of [
    'none',
    'None',
    'NONE',
    'HS256',
    'HS384',
    'HS512',
    'RS512',
    'ES512',
    'PS512',
    'Ed448',
    '',
    'ES256K',
  ]) {
    const input = `${b64({ alg, kid: signer.kid, typ: 'ndx+jwt' })}.${b64(claims())}`
    add(`alg ${alg || '(empty)'} unsigned`, 'GET', CITIZEN, [auth(`${input}.`)])
    add(`alg ${alg || '(empty)'} hmac`, 'GET', CITIZEN, [
      auth(`${input}.${createHmac('sha256', publicJwk).update(input).digest('base64url')}`),
    ])
  }
  const headerVariants: Array<[string, Record<string, unknown>]> = [
    ['typ JWT', { ...header, typ: 'JWT' }],
    ['typ missing', { alg: header.alg, kid: header.kid }],
    ['kid missing', { alg: header.alg, typ: 'ndx+jwt' }],
    ['kid traversal', { ...header, kid: '../../etc/passwd' }],
    ['kid number', { ...header, kid: 42 }],
    ['kid long', { ...header, kid: 'k'.repeat(2000) }],
    ['kid null', { ...header, kid: null }],
    ['jku', { ...header, jku: 'http://evil/jwks' }],
    ['embedded jwk', { ...header, jwk: { kty: 'EC' } }],
    ['crit', { ...header, crit: ['b64'], b64: false }],
    ['x5u', { ...header, x5u: 'http://evil' }],
    ['alg array', { ...header, alg: ['ES256'] }],
  ]
  for (const [name, h] of headerVariants) {
    const input = `${b64(h)}.${b64(claims())}`
    add(`header ${name}`, 'GET', CITIZEN, [auth(`${input}.${b64('sig')}`)])
  }
  // Tokens: huge, duplicated, odd schemes and bytes.
  add('huge token', 'GET', CITIZEN, [auth(`${b64({ ...header, pad: 'x'.repeat(60_000) })}.${b64(claims())}.c2ln`)])
  add('token twice', 'GET', CITIZEN, [['authorization', `Bearer ${good} Bearer ${good}`]])
  add('two authorization headers', 'GET', CITIZEN, [
    auth(await signed('GET', CITIZEN)),
    auth(await signed('GET', CITIZEN)),
  ])
  for (const scheme of ['Basic', 'bearer', 'Token', 'Bearer\t', 'BEARER', 'Negotiate']) {
    add(`scheme ${JSON.stringify(scheme)}`, 'GET', CITIZEN, [
      ['authorization', `${scheme} ${scheme.trim() === 'bearer' || scheme.trim() === 'BEARER' ? 'x.y.z' : good}`],
    ])
  }
  for (const junk of [
    '',
    ' ',
    'Bearer',
    'Bearer ',
    'Bearer ...',
    'Bearer a.b',
    'Bearer a.b.c.d',
    'Bearer é.é.é',
    'Bearer \u0000.\u0000.\u0000',
    'Bearer ' + '.'.repeat(100),
  ]) {
    add(`authorization ${JSON.stringify(junk).slice(0, 30)}`, 'GET', CITIZEN, [['authorization', junk]])
  }
  // Replays: a valid token used again.
  const once = await signed('GET', `${CITIZEN}?fields=fullName`)
  const setup: HostileRequest[] = [
    {
      name: 'a valid request, replayed below',
      method: 'GET',
      target: `${CITIZEN}?fields=fullName`,
      headers: [auth(once)],
    },
  ]
  for (let i = 0; i < 5; i++) add(`replay ${i + 1}`, 'GET', `${CITIZEN}?fields=fullName`, [auth(once)])

  // Paths: traversal, encodings, overlong, non-ASCII digits — each correctly signed, so it reaches routing.
  const paths = [
    `${CITIZEN}/../030075654294`,
    '/v1/population/citizens/../../../etc/passwd',
    '/v1/population/citizens/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/v1/population/citizens/%252e%252e%252f',
    '/v1/population/citizens/..%5c..%5cwindows',
    '/v1/population/citizens/030075654294%00',
    '/v1/population/citizens/030075654294%0d%0aSet-Cookie:x',
    '/v1/population/citizens/０３００７５６５４２９４',
    '/v1/population/citizens/٠٣٠٠٧٥٦٥٤٢٩٤',
    '/v1/population/citizens/۰۳۰۰۷۵۶۵۴۲۹۴',
    '/v1/population/citizens/030075654294/',
    '//v1/population/citizens/030075654294',
    '/v1//population/citizens/030075654294',
    '/V1/population/citizens/030075654294',
    '/v1/Population/citizens/030075654294',
    '/v1/population/citizens/' + '9'.repeat(5000),
    '/v1/population/citizens/' + 'a/'.repeat(2000),
    '/v1/' + 'x'.repeat(8000),
    '/v1/population/citizens/-30075654294',
    '/v1/population/citizens/3.0075654294e11',
    '/v1/population/citizens/030075654294;x=1',
    '/v1/population/citizens/030075654294#frag',
    '/v1/population/citizens/%',
    '/v1/population/citizens/%zz',
    '/v1/population/citizens/%ff%fe',
    '/v1/population/citizens/\u00e9',
    '/v1/audit/transactions/../../admin/reload',
    '/v1/admin/reload/../../population/citizens/030075654294',
    '/v1/population',
    '/v1/population/citizens',
    '/v1/',
    '/v1',
    '/v1/notifications/../population/citizens/030075654294',
    '/v1/population/citizens/030075654294/verify/..',
    '/v1/civil-status/persons/%2e%2e/events',
    '/v1/business-registry/enterprises/2627349851-',
    '/v1/business-registry/enterprises/2627349851-0001',
    '/v1/business-registry/enterprises/ 2627349851',
  ]
  for (const p of paths) {
    const target = encodeURI(p) === p ? p : p.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c))
    add(`path ${p.slice(0, 60)}`, 'GET', target, [auth(await signed('GET', target))])
    add(`path ${p.slice(0, 60)} (unsigned)`, 'GET', target, [])
  }
  // Tokens that were valid a while ago: the clock window.
  for (let age = 61; age <= 600; age += 11) {
    add(`token ${age} s old`, 'GET', CITIZEN, [
      auth(await signWith(header, claims({ iat: Math.floor(Date.now() / 1000) - age }))),
    ])
  }
  for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']) {
    add(`method ${method}`, method, CITIZEN, [
      auth(await signRequest(signer, { method, target: CITIZEN, purpose: 'public-service' })),
    ])
  }

  // Query: duplicates, unknown names, bad fields — signed.
  const queries = [
    '?fields=fullName&fields=dateOfBirth',
    '?fields=fullName,fullName,phone',
    '?fields=',
    '?fields',
    '?fields=,',
    '?fields=' + ','.repeat(1000),
    '?fields=*',
    '?fields=__proto__',
    '?fields=constructor',
    '?fields=fullName%2Cphone',
    '?fields[]=fullName',
    '?Fields=fullName',
    '?expand=all',
    '?x',
    '?&&&',
    '?fields=fullName&x=1',
    '?fields=' + 'a'.repeat(5000),
    '?fields=%zz',
    '?fields=%E0%A4%A',
    '?fields=fullName;phone',
    '?__proto__[x]=1',
    '?constructor[prototype][x]=1',
    '?fields=dateOfBirth&fields=',
    '?fields=fullName&fields=fullName',
    '?fields=FULLNAME',
    '?fields=full name',
  ]
  for (const q of queries) {
    add(`query ${q.slice(0, 50)}`, 'GET', CITIZEN + q, [auth(await signed('GET', CITIZEN + q))])
    add(`query ${q.slice(0, 50)} (unsigned)`, 'GET', CITIZEN + q, [])
  }

  // Bodies on the verify operation — signed with the body's real hash, so they reach validation.
  const evn = verifier
  const bodies: Array<[string, string | Buffer, string]> = [
    ['broken JSON', '{"fullName": ', 'application/json'],
    ['JSON string', '"Dương"', 'application/json'],
    ['JSON array', '[1,2,3]', 'application/json'],
    ['JSON null', 'null', 'application/json'],
    ['JSON number', '42', 'application/json'],
    ['empty object', '{}', 'application/json'],
    ['empty body', '', 'application/json'],
    ['__proto__', '{"__proto__": {"admin": true}}', 'application/json'],
    ['constructor.prototype', '{"constructor": {"prototype": {"polluted": 1}}}', 'application/json'],
    ['nested __proto__', '{"fullName": "x", "a": {"__proto__": {"b": 1}}}', 'application/json'],
    ['unknown field', '{"shoeSize": 42}', 'application/json'],
    ['wrong type', '{"dateOfBirth": 19750814}', 'application/json'],
    ['field not granted', '{"phone": "0990429373"}', 'application/json'],
    ['deep nesting', '['.repeat(5000) + ']'.repeat(5000), 'application/json'],
    ['huge string', JSON.stringify({ fullName: 'x'.repeat(70_000) }), 'application/json'],
    ['NaN literal', '{"fullName": NaN}', 'application/json'],
    ['trailing garbage', '{"fullName": "x"} garbage', 'application/json'],
    ['text/plain', '{"fullName": "x"}', 'text/plain'],
    ['xml', '<fullName>x</fullName>', 'application/xml'],
    ['form', 'fullName=x', 'application/x-www-form-urlencoded'],
    [
      'multipart',
      '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b--',
      'multipart/form-data; boundary=b',
    ],
    ['no content type', '{"fullName": "x"}', ''],
    ['binary', Buffer.from([0, 1, 2, 255, 254, 0]), 'application/octet-stream'],
    ['charset latin1', '{"fullName": "x"}', 'application/json; charset=latin1'],
    ['oversize', Buffer.alloc(200_000, 0x20), 'application/json'],
  ]
  for (const [name, body, type] of bodies) {
    const raw = Buffer.isBuffer(body) ? body : Buffer.from(body)
    const token = await signRequest(evn, {
      method: 'POST',
      target: VERIFY,
      body: raw,
      purpose: 'customer-verification',
    })
    add(
      `body ${name}`,
      'POST',
      VERIFY,
      [auth(token), ...(type === '' ? [] : [['content-type', type] as [string, string]])],
      raw
    )
  }
  for (let i = 0; i < 150; i++) {
    // Random JSON-ish noise of random length.
    const n = Math.floor(rand() * 400)
    const noise = Buffer.from(
      Array.from({ length: n }, () => '{}[]":,0123456789abcdefnulltrue \\\u00e9'[Math.floor(rand() * 33)]).join('')
    )
    const token = await signRequest(evn, {
      method: 'POST',
      target: VERIFY,
      body: noise,
      purpose: 'customer-verification',
    })
    add(`body noise ${i}`, 'POST', VERIFY, [auth(token), ['content-type', 'application/json']], noise)
  }
  // Notifications and audit with hostile input, signed by the agency (not a source, not an auditor).
  for (const body of [
    '{"service":"population","subject":"030075654294","event":"updated"}',
    '{}',
    '{"service":"../etc","subject":"x","event":"updated"}',
  ]) {
    const token = await signRequest(evn, {
      method: 'POST',
      target: '/v1/notifications',
      body,
      purpose: 'public-service',
    })
    add(
      `notification ${body.slice(0, 30)}`,
      'POST',
      '/v1/notifications',
      [auth(token), ['content-type', 'application/json']],
      body
    )
  }
  for (const q of ['?client=VN.BHXH', '?from=yesterday', '?limit=100000', '?cursor=%00', '?groupBy=password']) {
    const target = `/v1/audit/${q.startsWith('?groupBy') ? 'counts' : 'transactions'}${q}`
    add(`audit ${q}`, 'GET', target, [auth(await signed('GET', target))])
  }
  for (const t of ['/v1/audit/integrity', '/v1/audit/checkpoints']) {
    add(`audit ${t}`, 'GET', t, [auth(await signed('GET', t))])
  }
  const JSON_TYPE: [string, string] = ['content-type', 'application/json']
  // Issue 10: the verify oracle. Five wrong date-of-birth guesses (setup, answered) use up the agency's
  // failed-verification budget for the person; every later guess, the true one included, is refused.
  for (const day of ['01', '02', '03', '04', '05']) {
    const body = JSON.stringify({ dateOfBirth: `1975-01-${day}` })
    const token = await signRequest(evn, { method: 'POST', target: VERIFY, body, purpose: 'customer-verification' })
    const headers: Array<[string, string]> = [auth(token), JSON_TYPE]
    const name = `verify guess 1975-01-${day}`
    setup.push({ name, method: 'POST', target: VERIFY, headers, body: Buffer.from(body) })
  }
  for (const dob of ['1975-08-14', '1975-01-06']) {
    const body = JSON.stringify({ dateOfBirth: dob })
    const token = await signRequest(evn, { method: 'POST', target: VERIFY, body, purpose: 'customer-verification' })
    add(`verify guess ${dob} past the budget`, 'POST', VERIFY, [auth(token), JSON_TYPE], body)
  }
  // Issue 10: prototype member names where the gateway looks a name up in a table.
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    add(`docs ${name}`, 'GET', `/docs/${name}`, [])
  }
  add('admin reload by a consumer', 'POST', '/v1/admin/reload', [
    auth(await signRequest(evn, { method: 'POST', target: '/v1/admin/reload', purpose: 'public-service' })),
  ])
  return { setup, hostile: out }
}
