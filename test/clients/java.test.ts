/**
 * The Java client (clients/java: JDK 17 only, java.net.http + java.security) compiled with javac and run
 * against a real gateway (demo config, registry simulators, listening on a port): it signs (ES256 with the
 * DER -> P1363 conversion, EdDSA, PS256, ES384), calls, and tells a problem (exit 1) from an unreachable
 * gateway (exit 3). No javac is a failure, not a skip.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { projectPath } from '../../core/paths.js'
import { logGateway } from '../helpers/txlog.js'

interface Run { code: number, out: string, err: string }

function exec (cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (error, out, err) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      resolve({ code, out, err: err + (error !== null && typeof error.code !== 'number' ? String(error) : '') })
    })
  })
}

const key = (agency: string): string => projectPath('demo', 'keys', `${agency}.private.jwk.json`)

t.test('the Java client signs, calls and handles problems against a real gateway', async (t) => {
  const classes = await mkdtemp(join(tmpdir(), 'ndx-java-'))
  t.teardown(() => rm(classes, { recursive: true, force: true }))
  const src = projectPath('clients', 'java', 'src', 'ndx')
  const files = (await readdir(src)).filter((f) => f.endsWith('.java')).map((f) => join(src, f))
  const compiled = await exec('javac', ['-encoding', 'UTF-8', '-d', classes, '-Xlint:all', '-Werror', ...files])
  t.equal(compiled.code, 0, `javac compiles the client without warnings ${compiled.err}`)

  const java = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    exec('java', ['-cp', classes, 'ndx.Main', ...args], env)

  const vectors = await java(['vectors', projectPath('docs', 'vectors', 'vectors.json')])
  t.equal(vectors.code, 0, 'the Java client agrees with every published signing vector')
  t.match(vectors.out, /all 5 vectors pass/)

  const { app } = await logGateway(t, { database: 'pglite' })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const call = (agency: string, args: string[]): Promise<Run> =>
    java(['call', '--url', url, '--iss', agency, '--key', key(agency), ...args])

  const citizen = await call('VN.LOC.DNG', [
    '--purpose',
    'public-service',
    'GET',
    '/v1/population/citizens/030075654294',
  ])
  t.equal(citizen.code, 0, `ES256: ${citizen.err}`)
  t.match(citizen.err, /HTTP 200 {2}X-Transaction-Id: [0-9a-f-]{36}/)
  t.equal(JSON.parse(citizen.out).data.fullName, 'Dương Đức Việt', 'UTF-8 replies read as UTF-8')

  const encoded = await call('VN.LOC.DNG', [
    '--purpose',
    'public-service',
    'GET',
    '/v1/population/citizens/030075654294?fields=fullName%2CdateOfBirth',
  ])
  t.equal(encoded.code, 0, `a percent-encoded query is sent exactly as signed: ${encoded.err}`)
  t.same(Object.keys(JSON.parse(encoded.out).data).sort(), ['dateOfBirth', 'fullName'])

  const bodyFile = join(classes, 'claims.json')
  await writeFile(bodyFile, '{"fullName":"Dương Đức Việt","dateOfBirth":"1975-08-14"}')
  const verify = await call('VN.EVN.HCMC', [
    '--purpose',
    'customer-verification',
    '--body-file',
    bodyFile,
    'POST',
    '/v1/population/citizens/030075654294/verify',
  ])
  t.equal(verify.code, 0, `EdDSA with a non-ASCII body: ${verify.err}`)
  t.same(JSON.parse(verify.out).data, {
    personalId: '030075654294',
    match: true,
    fields: { fullName: true, dateOfBirth: true },
  })

  const audit = await call('VN.TTCP', ['GET', '/v1/audit/counts?groupBy=client'])
  t.equal(audit.code, 0, `ES384: ${audit.err}`)
  t.ok(JSON.parse(audit.out).total >= 3)

  const denied = await call('VN.VIETTEL', [
    '--purpose',
    'subscriber-verification',
    'GET',
    '/v1/population/citizens/030075654294',
  ])
  t.equal(denied.code, 1, 'PS256 signs; the refusal is exit 1')
  t.match(denied.err, /HTTP 403 .* access\.denied: /)
  t.equal(JSON.parse(denied.out).code, 'access.denied')

  const wrongKey = await java([
    'call',
    '--url',
    url,
    '--iss',
    'VN.LOC.DNG',
    '--key',
    key('VN.BHXH'),
    '--purpose',
    'public-service',
    'GET',
    '/v1/population/citizens/030075654294',
  ])
  t.equal(wrongKey.code, 1)
  t.match(wrongKey.err, /HTTP 401 .* auth\.(unknown_key|signature)/)

  await app.close()
  const down = await java([
    'call',
    '--url',
    url,
    '--iss',
    'VN.LOC.DNG',
    '--key',
    key('VN.LOC.DNG'),
    '--timeout',
    '3000',
    'GET',
    '/v1/population/citizens/030075654294',
  ])
  t.equal(down.code, 3, 'an unreachable gateway is exit 3, not a refusal')
  t.match(down.err, /cannot reach the gateway/)
  t.equal((await java(['call', 'GET'])).code, 2, 'usage')
})
