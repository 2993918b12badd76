/**
 * The ndx CLI: keygen, token, call and config check, as an administrator or agency developer uses them.
 */
import t from 'tap'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { runCli } from '../../cli/ndx.js'
import { buildTestGateway, copyConfig, DEMO_CONFIG, sharedSimulators } from '../helpers/gateway.js'

async function cli (
  args: string[],
  env: Record<string, string | undefined> = {}
): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await runCli(args, {
    out: (s) => {
      out += s
    },
    err: (s) => {
      err += s + '\n'
    },
    env,
  })
  return { code, out, err }
}

t.test('keygen writes a private key (0600) and prints the public entry for the agency file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ndx-keys-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'k.jwk.json')
  const res = await cli(['keygen', '--kid', 'dng-2027-01', '--alg', 'EdDSA', '--out', file])
  t.equal(res.code, 0)
  const priv = JSON.parse(await readFile(file, 'utf8'))
  t.match(priv, { kty: 'OKP', crv: 'Ed25519', kid: 'dng-2027-01', alg: 'EdDSA', d: String })
  t.equal((await stat(file)).mode & 0o777, 0o600)
  const entry = parse(res.out) as Array<{ kid: string, jwk: Record<string, string> }>
  t.equal(entry[0]?.kid, 'dng-2027-01')
  t.equal(entry[0]?.jwk.x, priv.x)
  t.notOk('d' in (entry[0]?.jwk ?? {}), 'the printed key is public')
  t.equal((await cli(['keygen', '--kid', 'dng-2027-01', '--out', file])).code, 2, 'never overwrites a key')
  t.equal((await cli(['keygen', '--kid', 'x', '--alg', 'HS256', '--out', join(dir, 'y')])).code, 2)
})

t.test('token makes a token the gateway accepts, for curl', async (t) => {
  const { app } = await buildTestGateway(t)
  const target = '/v1/population/citizens/030075654294?fields=fullName'
  const res = await cli([
    'token',
    '--iss',
    'VN.LOC.DNG',
    '--method',
    'GET',
    '--target',
    target,
    '--purpose',
    'public-service',
  ])
  t.equal(res.code, 0)
  t.match(res.err, /DEMO key/)
  const reply = await app.inject({ method: 'GET', url: target, headers: { authorization: `Bearer ${res.out.trim()}` } })
  t.equal(reply.statusCode, 200)
  t.same(JSON.parse(reply.body).data, { fullName: 'Dương Đức Việt' })
  const body = '{"fullName":"Dương Đức Việt"}'
  const post = await cli([
    'token',
    '--iss',
    'VN.EVN.HCMC',
    '--method',
    'POST',
    '--target',
    '/v1/population/citizens/030075654294/verify',
    '--purpose',
    'customer-verification',
    '--body',
    body,
    '--exp',
    '60',
  ])
  const verified = await app.inject({
    method: 'POST',
    url: '/v1/population/citizens/030075654294/verify',
    headers: { authorization: `Bearer ${post.out.trim()}`, 'content-type': 'application/json' },
    payload: body,
  })
  t.equal(verified.statusCode, 200)
  t.equal(
    (await cli(['token', '--iss', 'VN.NOBODY', '--method', 'GET', '--target', '/v1/x'])).code,
    2,
    'no key for an unknown agency'
  )
})

t.test('call signs, sends and prints the reply; the exit code follows the status', async (t) => {
  const { app } = await buildTestGateway(t)
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const ok = await cli([
    'call',
    '--iss',
    'VN.LOC.DNG',
    '--url',
    url,
    '--purpose',
    'public-service',
    'GET',
    '/v1/population/citizens/030075654294',
  ])
  t.equal(ok.code, 0)
  t.match(ok.err, /HTTP 200 {2}X-Transaction-Id: [0-9a-f-]{36}/)
  t.equal(JSON.parse(ok.out).data.fullName, 'Dương Đức Việt')
  const verify = await cli([
    'call',
    '--iss',
    'VN.EVN.HCMC',
    '--url',
    url,
    '--purpose',
    'customer-verification',
    '--body',
    '{"dateOfBirth":"1975-08-14"}',
    'POST',
    '/v1/population/citizens/030075654294/verify',
  ])
  t.same(JSON.parse(verify.out).data, { personalId: '030075654294', match: true, fields: { dateOfBirth: true } })
  const denied = await cli([
    'call',
    '--iss',
    'VN.VIETTEL',
    '--url',
    url,
    '--purpose',
    'subscriber-verification',
    'GET',
    '/v1/population/citizens/030075654294',
  ])
  t.equal(denied.code, 1)
  t.equal(JSON.parse(denied.out).code, 'access.denied')
  t.equal((await cli(['call', '--iss', 'VN.LOC.DNG', '--body', '{bad', 'POST', '/v1/x'])).code, 2)
})

t.test('config check: the same verdict as the gateway, with a non-zero exit on refusal', async (t) => {
  const sims = await sharedSimulators(t)
  const good = await cli(['config', 'check', DEMO_CONFIG], sims.env)
  t.equal(good.code, 0)
  t.match(good.out, /^ok: .* 8 agencies, 3 services, 5 operations \(digest [0-9a-f]{16}\)/)
  const dir = await copyConfig(t)
  await writeFile(
    join(dir, 'agencies', 'VN.BAD.yaml'),
    'id: VN.BAD\nname: x\nroles: [consumer]\nkeys: []\n' +
      'grants:\n  population.citizen: { fields: [nope], purposes: [x] }\n'
  )
  const bad = await cli(['config', 'check', dir])
  t.equal(bad.code, 1)
  t.equal(bad.err, '', 'one output stream: the header and the issues both go to stdout')
  t.equal(
    bad.out,
    `refused: ${dir} — 1 issue(s)\n` +
      '  agencies/VN.BAD.yaml:6 /grants/population.citizen/fields: nope is not a field of population.citizen\n'
  )
})

t.test('usage', async (t) => {
  t.equal((await cli([])).code, 2)
  t.equal((await cli(['help'])).code, 0)
  t.equal((await cli(['frobnicate'])).code, 2)
  t.equal((await cli(['config', 'lint'])).code, 2)
  t.equal((await cli(['keygen', '--bogus'])).code, 2)
})

t.test('checkpoint verify: offline, with the gateway\'s public key alone', async (t) => {
  const { Checkpointer } = await import('../../gateway/txlog/checkpoints.js')
  const { projectPath } = await import('../../core/paths.js')
  const cp = await Checkpointer.fromFile(
    'ndx-gateway',
    projectPath('demo', 'keys', 'gateway-checkpoint.private.jwk.json')
  )
  const dir = await mkdtemp(join(tmpdir(), 'ndx-cp-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const keyFile = join(dir, 'gateway.pub.jwk.json')
  await writeFile(keyFile, JSON.stringify(cp.publicJwk))
  const jws = await cp.sign(42, 'a'.repeat(64))
  const ok = await cli(['checkpoint', 'verify', '--key', keyFile, jws])
  t.equal(ok.code, 0)
  t.match(JSON.parse(ok.out), { valid: true, iss: 'ndx-gateway', seq: 42, hash: 'a'.repeat(64) })
  const [h, p, s] = jws.split('.')
  const payload = { iss: 'ndx-gateway', seq: 43, hash: 'a'.repeat(64), iat: 1 }
  const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`
  t.equal((await cli(['checkpoint', 'verify', '--key', keyFile, tampered])).code, 1)
  t.equal((await cli(['checkpoint', 'verify', jws])).code, 2)
  void p
})
