/**
 * The shell client (clients/shell/ndx.sh: bash, openssl and curl only) run against a real gateway (demo
 * config, registry simulators, listening on a port): it signs with keys from JWK files (ES256 with the
 * DER -> r||s conversion, ES384, EdDSA) or PEM (PS256), computes the vectors' bsh, and tells a problem
 * (exit 1) from an unreachable gateway (exit 3).
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { projectPath } from '../../core/paths.js'
import { logGateway } from '../helpers/txlog.js'

interface Run { code: number, out: string, err: string }
const SCRIPT = projectPath('clients', 'shell', 'ndx.sh')
const key = (agency: string): string => projectPath('demo', 'keys', `${agency}.private.jwk.json`)

function sh (args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      'bash',
      [SCRIPT, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
      (error, out, err) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, out, err })
      }
    )
    child.stdin?.end(input ?? '')
  })
}

t.test('the shell client computes every vector\'s bsh', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ndx-sh-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const vectors = (
    JSON.parse(readFileSync(projectPath('docs', 'vectors', 'vectors.json'), 'utf8')) as {
      vectors: Array<{ bsh: string; request: { bodyBase64: string } }>
    }
  ).vectors
  for (const [i, v] of vectors.entries()) {
    const file = join(dir, `body-${i}`)
    await writeFile(file, Buffer.from(v.request.bodyBase64, 'base64'))
    t.equal((await sh(['bsh', '--body-file', file])).out.trim(), v.bsh, `vector ${i + 1}`)
  }
})

t.test('the shell client signs, calls and handles problems against a real gateway', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ndx-sh-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { app } = await logGateway(t, { database: 'pglite' })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const call = (agency: string, args: string[]): Promise<Run> =>
    sh(['call', '--url', url, '--iss', agency, '--key', key(agency), ...args])

  const citizen = await call('VN.LOC.DNG', [
    '--purpose',
    'public-service',
    'GET',
    '/v1/population/citizens/030075654294',
  ])
  t.equal(citizen.code, 0, `ES256 from a JWK: ${citizen.err}`)
  t.match(citizen.err, /HTTP 200 {2}X-Transaction-Id: [0-9a-f-]{36}/)
  t.equal(JSON.parse(citizen.out).data.fullName, 'Dương Đức Việt')

  const encoded = await call('VN.LOC.DNG', [
    '--purpose',
    'public-service',
    'GET',
    '/v1/population/citizens/030075654294?fields=fullName%2CdateOfBirth',
  ])
  t.equal(encoded.code, 0, `a percent-encoded query is sent exactly as signed: ${encoded.err}`)
  t.same(Object.keys(JSON.parse(encoded.out).data).sort(), ['dateOfBirth', 'fullName'])

  const body = join(dir, 'claims.json')
  await writeFile(body, '{"fullName":"Dương Đức Việt","dateOfBirth":"1975-08-14"}')
  const verify = await call('VN.EVN.HCMC', [
    '--purpose',
    'customer-verification',
    '--body-file',
    body,
    '--sub',
    'cán bộ "Bình"',
    'POST',
    '/v1/population/citizens/030075654294/verify',
  ])
  t.equal(verify.code, 0, `EdDSA, a non-ASCII body and sub: ${verify.err}`)
  t.same(JSON.parse(verify.out).data, {
    personalId: '030075654294',
    match: true,
    fields: { fullName: true, dateOfBirth: true },
  })

  const audit = await call('VN.TTCP', ['GET', '/v1/audit/counts?groupBy=client'])
  t.equal(audit.code, 0, `ES384: ${audit.err}`)
  t.ok(JSON.parse(audit.out).total >= 3)

  const pem = join(dir, 'viettel.pem')
  const jwk = JSON.parse(readFileSync(key('VN.VIETTEL'), 'utf8')) as { kid: string }
  await writeFile(pem, createPrivateKey({ key: jwk as never, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }))
  const denied = await sh([
    'call',
    '--url',
    url,
    '--iss',
    'VN.VIETTEL',
    '--pem',
    pem,
    '--kid',
    jwk.kid,
    '--alg',
    'PS256',
    '--purpose',
    'subscriber-verification',
    'GET',
    '/v1/population/citizens/030075654294',
  ])
  t.equal(denied.code, 1, 'PS256 from a PEM signs (the refusal is access.denied, not auth); a refusal is exit 1')
  t.match(denied.err, /HTTP 403 .* access\.denied/)
  t.equal(JSON.parse(denied.out).code, 'access.denied')

  const token = await sh([
    'token',
    '--iss',
    'VN.LOC.DNG',
    '--key',
    key('VN.LOC.DNG'),
    '--purpose',
    'public-service',
    'GET',
    '/v1/population/citizens/030075654294',
  ])
  t.equal(token.code, 0)
  const withCurl = await app.inject({
    url: '/v1/population/citizens/030075654294',
    headers: { authorization: `Bearer ${token.out.trim()}` },
  })
  t.equal(withCurl.statusCode, 200, 'ndx.sh token makes a token the gateway accepts')

  const env = { NDX_URL: url, NDX_AGENCY: 'VN.LOC.DNG', NDX_KEY: key('VN.LOC.DNG') }
  t.equal(
    (await sh(['call', '--purpose', 'public-service', 'GET', '/v1/population/citizens/030075654294'], env)).code,
    0,
    'NDX_* give the defaults'
  )

  await app.close()
  const down = await sh(['call', '--timeout', '3', 'GET', '/v1/population/citizens/030075654294'], env)
  t.equal(down.code, 3, 'an unreachable gateway is exit 3, not a refusal')
  t.match(down.err, /cannot reach the gateway/)
  t.equal((await sh(['call', 'GET'], env)).code, 2, 'usage')
  t.equal((await sh(['--help'])).code, 0)
})
