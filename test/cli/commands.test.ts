/**
 * The CLI as a new user meets it (CONTRACT §1 v1.1): every command answers --help (exit 0), --version, a
 * bad value is named as invalid (not "required"), exit codes tell a refusal (1) from usage (2) from an
 * unreachable gateway (3), NDX_* environment variables, keys found where keygen puts them, --json.
 */
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { decodeJwt } from 'jose'
import { COMMANDS, external, runCli } from '../../cli/ndx.js'
import { loadConfig } from '../../gateway/config/load-config.js'
import { projectPath } from '../../core/paths.js'
import { childEnv } from '../helpers/child-env.js'
import { buildTestGateway, copyConfig, sharedSimulators } from '../helpers/gateway.js'

/** The line of `checkpointKeyFile` in the demo gateway.yaml (so the test follows edits above it). */
const KEY_FILE_LINE = readFileSync(projectPath('config', 'gateway.yaml'), 'utf8').split('\n')
  .findIndex((l) => l.trimStart().startsWith('checkpointKeyFile:')) + 1

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

/** The CLI as its own process (`cli/main.ts` under tsx), for commands that write to stdout themselves. */
async function cliProcess (args: string[]): Promise<{ code: number, out: string, err: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', projectPath('cli', 'main.ts'), ...args],
      { timeout: 60_000, env: childEnv() },
      (error, out, err) => {
        if (error !== null && typeof error.code !== 'number') reject(error)
        else resolve({ code: error === null ? 0 : (error.code as number), out, err })
      }
    )
  })
}

async function tempDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ndx-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('every command answers --help with its usage and exit 0', async (t) => {
  t.ok(COMMANDS.length >= 5)
  for (const command of COMMANDS) {
    // Commands that print their own help write to the process's stdout: run those as a real `ndx`.
    const res = command.help === undefined
      ? await cliProcess([...command.name.split(' '), '--help'])
      : await cli([...command.name.split(' '), '--help'])
    t.equal(res.code, 0, `ndx ${command.name} --help`)
    t.match(res.out, new RegExp(`usage: ndx ${command.name}`))
    t.match(res.out, /exit: 0/i, 'says what its exit codes mean')
  }
  const call = await cli(['call', '-h'])
  t.match(call.out, /NDX_URL/)
  const all = await cli(['--help'])
  t.equal(all.code, 0)
  for (const name of ['NDX_URL', 'NDX_AGENCY', 'NDX_KEY', 'NDX_KEYS_DIR', 'NDX_AUDIENCE', 'CONFIG_DIR']) {
    t.match(all.out, name, `documents ${name}`)
  }
  t.match(all.out, /exit codes: 0 done, 1 refused .* 2 usage, 3 gateway unreachable/)
})

t.test('--version prints the version', async (t) => {
  const pkg = JSON.parse(await readFile(projectPath('package.json'), 'utf8')) as { version: string }
  const res = await cli(['--version'])
  t.equal(res.code, 0)
  t.equal(res.out, `ndx ${pkg.version}\n`)
})

t.test('a given but invalid value is named as invalid, not as missing', async (t) => {
  const dir = await tempDir(t)
  const bad = await cli(['keygen', '--kid', 'a/b', '--out', join(dir, 'k.json')])
  t.equal(bad.code, 2)
  t.match(bad.err, /--kid a\/b is not a valid key id: use letters, digits and \. _ : -/)
  t.notMatch(bad.err, /is required/)
  t.match((await cli(['keygen'])).err, /--kid is required/)
  t.match((await cli(['keygen', '--kid', 'k', '--alg', 'HS256', '--out', join(dir, 'k.json')])).err, /--alg HS256 is not accepted/)
  const unknown = await cli(['config', 'lint'])
  t.equal(unknown.code, 2)
  t.match(unknown.err, /did you mean ndx config check/)
})

t.test('keygen --iss writes the key where token and call look for it; no --key needed', async (t) => {
  const keys = await tempDir(t)
  const made = await cli(['keygen', '--kid', 'new-2027-01', '--iss', 'VN.NEW', '--json'], { NDX_KEYS_DIR: keys })
  t.equal(made.code, 0)
  const info = JSON.parse(made.out) as { privateKeyFile: string, kid: string, publicJwk: Record<string, string> }
  t.equal(info.privateKeyFile, join(keys, 'VN.NEW.private.jwk.json'))
  t.equal(info.kid, 'new-2027-01')
  t.notOk('d' in info.publicJwk)

  const dir = await copyConfig(t)
  await writeFile(
    join(dir, 'agencies', 'VN.NEW.yaml'),
    stringify({
      id: 'VN.NEW',
      name: 'New agency',
      roles: ['consumer'],
      keys: [{ kid: info.kid, jwk: info.publicJwk }],
      grants: { 'business-registry.enterprise': { fields: '*', purposes: '*' } },
    })
  )
  const sims = await sharedSimulators(t)
  const { app } = await buildTestGateway(t, { config: await loadConfig(dir, sims.env) })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const env = { NDX_KEYS_DIR: keys, NDX_URL: url, NDX_AGENCY: 'VN.NEW' }
  const res = await cli(['call', '--json', 'GET', '/v1/business-registry/enterprises/2627349851'], env)
  t.equal(res.code, 0, res.err)
  t.notMatch(res.err, /DEMO/, 'the agency\'s own key, not a demo key')
  const reply = JSON.parse(res.out) as {
    status: number
    transactionId: string
    body: { data: { enterpriseCode: string } }
  }
  t.match(reply, { status: 200, transactionId: /^[0-9a-f-]{36}$/, body: { data: { enterpriseCode: '2627349851' } } })

  const token = await cli(['token', '--json', '--method', 'GET', '--target', '/v1/x?y=%3A'], env)
  t.equal(token.code, 0)
  const printed = JSON.parse(token.out) as {
    token: string
    header: Record<string, string>
    claims: Record<string, unknown>
  }
  t.match(printed, {
    header: { alg: 'ES256', kid: 'new-2027-01', typ: 'ndx+jwt' },
    claims: { iss: 'VN.NEW', htm: 'GET', htu: '/v1/x?y=%3A' },
  })
  t.same(decodeJwt(printed.token), printed.claims)
  const none = await cli(['token', '--iss', 'VN.NOBODY', '--method', 'GET', '--target', '/v1/x'], {
    NDX_KEYS_DIR: keys,
  })
  t.equal(none.code, 2)
  t.match(none.err, /no key for VN\.NOBODY: give --key <file>, set NDX_KEY, or keep it as .*VN\.NOBODY\.private\.jwk\.json/)
})

t.test('call: a refusal is exit 1, an unreachable gateway exit 3, a usage mistake exit 2', async (t) => {
  const { app } = await buildTestGateway(t)
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
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
  t.match(denied.err, /HTTP 403 .* access\.denied: /)
  const json = await cli([
    'call',
    '--json',
    '--iss',
    'VN.VIETTEL',
    '--url',
    url,
    '--purpose',
    'subscriber-verification',
    'GET',
    '/v1/population/citizens/030075654294',
  ])
  t.match(JSON.parse(json.out), { status: 403, body: { code: 'access.denied' } })
  await app.close()
  const down = await cli(
    ['call', '--iss', 'VN.LOC.DNG', '--purpose', 'public-service', 'GET', '/v1/population/citizens/030075654294'],
    { NDX_URL: url }
  )
  t.equal(down.code, 3, 'NDX_URL is used, and nothing answers there')
  t.match(down.err, /cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/)
  t.equal(
    (await cli(['call', '--iss', 'VN.LOC.DNG', 'GET', 'population/citizens/1'], { NDX_URL: url })).code,
    2,
    'a target without / is usage'
  )
  t.equal((await cli(['call', '--iss', 'VN.LOC.DNG', '--url', 'not a url', 'GET', '/v1/x'])).code, 2)
})

t.test('config check: one stream, --json, and the same verdict as the gateway for a copied directory', async (t) => {
  const dir = await copyConfig(t)
  await rm(join(dir, '..', 'demo'))
  const res = await cli(['config', 'check', dir])
  t.equal(res.code, 1)
  t.equal(res.err, '')
  t.match(
    res.out,
    new RegExp(
      `^refused: .* 1 issue\\(s\\)\\n {2}gateway\\.yaml:${KEY_FILE_LINE} /secrets/checkpointKeyFile: ` +
        'file not found: .*gateway-checkpoint\\.private\\.jwk\\.json\\n$'
    )
  )
  const json = await cli(['config', 'check', '--json'], { CONFIG_DIR: dir })
  t.equal(json.code, 1)
  t.match(JSON.parse(json.out), { ok: false, dir, issues: [{ file: 'gateway.yaml', line: KEY_FILE_LINE, path: '/secrets/checkpointKeyFile', reason: /file not found/ }] })
  const fixed = await cli(['config', 'check', '--json', dir], {
    NDX_CHECKPOINT_KEY_FILE: projectPath('demo', 'keys', 'gateway-checkpoint.private.jwk.json'),
  })
  t.match(JSON.parse(fixed.out), { ok: true, agencies: 8, services: 3, operations: 5, issues: [] })
  t.equal(fixed.code, 0)
})

t.test('keygen without --iss keeps naming the file by kid, and the YAML entry is printed', async (t) => {
  const keys = await tempDir(t)
  const res = await cli(['keygen', '--kid', 'k-1'], { NDX_KEYS_DIR: keys })
  t.equal(res.code, 0)
  t.same((parse(res.out) as Array<{ kid: string }>)[0]?.kid, 'k-1')
  t.match(res.err, new RegExp(`written to ${join(keys, 'k-1.private.jwk.json').replace(/\./g, '\\.')}`))
})

t.test(
  'a command module added with external() gets its argv, --help included, and its exit code is kept',
  async (t) => {
    const seen: string[][] = []
    const batch = external('batch', 'submit a batch', async () => ({
      main: async (argv: string[]) => {
        seen.push(argv)
        return argv.includes('--help') ? 0 : 5
      },
    }))
    t.equal(batch.name, 'batch')
    t.equal(batch.help, undefined, 'it prints its own help')
    t.equal(await batch.run(['submit', 'f.ndjson'], { out: () => {}, err: () => {}, env: {} }), 5)
    t.equal(await batch.run(['--help'], { out: () => {}, err: () => {}, env: {} }), 0)
    t.same(seen, [['submit', 'f.ndjson'], ['--help']])
  }
)
