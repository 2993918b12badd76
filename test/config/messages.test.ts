/**
 * CONTRACT §2 (v1.1): config messages people can follow — `file:line`, one message per mistake saying what
 * is expected, "did you mean", no cascades, cross-file checks even in a file with schema errors, files the
 * config names checked as the gateway reads them, and `type: map` with its `values`.
 */
import { readFileSync } from 'node:fs'
import { projectPath } from '../../core/paths.js'
import t from 'tap'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatIssue, loadConfig } from '../../gateway/config/load-config.js'
import type { ConfigIssue } from '../../core/config-types.js'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { readEnvironment } from '../../gateway/config/env.js'
import { startGateway } from '../../gateway/server.js'
import { refused } from '../helpers/config.js'
import { copyConfig } from '../helpers/gateway.js'
import { tempDir } from '../helpers/txlog.js'

/** The line of `checkpointKeyFile` in the demo gateway.yaml (so the test follows edits above it). */
const KEY_FILE_LINE = readFileSync(projectPath('config', 'gateway.yaml'), 'utf8').split('\n')
  .findIndex((l) => l.trimStart().startsWith('checkpointKeyFile:')) + 1

const AGENCY = (grant: string, extra = ''): string => `id: VN.NEW
name: New agency
roles: [consumer]
keys: []
grants:
  ${grant}
${extra}`

t.test('purposes: tax-assessment is one message saying "a list or *", with its line', async (t) => {
  const dir = await copyConfig(t)
  await writeFile(
    join(dir, 'agencies', 'VN.NEW.yaml'),
    AGENCY('population.citizen: { fields: [fullName], purposes: tax-assessment }')
  )
  const issues = await refused(t, dir)
  t.same(issues, [{
    file: 'agencies/VN.NEW.yaml',
    line: 6,
    path: '/grants/population.citizen/purposes',
    reason: 'must be `*` (any purpose), or a list of purpose codes, e.g. [tax-assessment]',
  }])
  t.equal(
    formatIssue(issues[0] as ConfigIssue),
    'agencies/VN.NEW.yaml:6 /grants/population.citizen/purposes: ' +
      'must be `*` (any purpose), or a list of purpose codes, e.g. [tax-assessment]'
  )
})

t.test('a misspelt name suggests the right one: purpose -> purposes', async (t) => {
  const dir = await copyConfig(t)
  await writeFile(
    join(dir, 'agencies', 'VN.NEW.yaml'),
    AGENCY('population.citizen:\n    fields: [fullName]\n    purpose: [public-service]')
  )
  t.same(await refused(t, dir), [
    {
      file: 'agencies/VN.NEW.yaml',
      line: 8,
      path: '/grants/population.citizen/purpose',
      reason: 'unknown property (did you mean `purposes`?)',
    },
  ])
})

t.test('schema errors do not hide cross-file errors of the same file', async (t) => {
  const dir = await copyConfig(t)
  await writeFile(
    join(dir, 'agencies', 'VN.NEW.yaml'),
    AGENCY(
      'populaton.citizen: { fields: [fullName], purposes: [x] }\n' +
        '  population.citizen: { fields: [fulName], purposes: [x] }',
      'quota: { perMinute: lots }\n'
    )
  )
  const issues = await refused(t, dir)
  t.same(issues.map(formatIssue).sort(), [
    'agencies/VN.NEW.yaml:6 /grants/populaton.citizen: no service populaton is configured (did you mean `population`?)',
    'agencies/VN.NEW.yaml:7 /grants/population.citizen/fields: ' +
      'fulName is not a field of population.citizen (did you mean `fullName`?)',
    'agencies/VN.NEW.yaml:8 /quota/perMinute: must be an integer',
  ])
})

t.test('a missing environment variable is one message, not a cascade into the pattern it then fails', async (t) => {
  const dir = await copyConfig(t)
  const file = join(dir, 'gateway.yaml')
  await writeFile(
    file,
    (await readFile(file, 'utf8'))
      .replace('${NDX_CACHE_KEY:-ZGVtby1vbmx5LWNhY2hlLWtleS0wMDAwMDAwMDAwMDA=}', '${NDX_CACHE_KEY}')
      .replace('${NDX_PSEUDONYM_KEY:-demo-only-pseudonym-key-0000000000000000}', '${NDX_PSEUDONYM_KEY}')
  )
  const issues = await refused(t, dir)
  t.same(issues.map((i) => [i.path, i.reason.split(' (')[0]]), [
    ['/secrets/pseudonymKey', 'environment variable NDX_PSEUDONYM_KEY is not set'],
    ['/secrets/cacheKeys/0/key', 'environment variable NDX_CACHE_KEY is not set'],
  ], 'neither the minLength of the pseudonym key nor the 32 bytes of the cache key are reported')
})

t.test('a YAML error is reported whole, with its line', async (t) => {
  const dir = await copyConfig(t)
  await writeFile(
    join(dir, 'agencies', 'VN.NEW.yaml'),
    AGENCY('population.citizen: { fields: [fullName], purposes: [x] }', 'sources: x: y\n')
  )
  const issues = await refused(t, dir)
  t.equal(issues.length, 1)
  t.match(issues[0], { file: 'agencies/VN.NEW.yaml', line: 7, path: '' })
  t.match(issues[0]?.reason, /^not valid YAML\/JSON: Nested mappings are not allowed in compact mappings$/, 'the message is not cut off at "at line …:"')
})

t.test('a config directory copied elsewhere is refused naming the missing key file, never a crash', async (t) => {
  const dir = await copyConfig(t)
  await rm(join(dir, '..', 'demo'))
  const issues = await refused(t, dir)
  t.same(issues, [{
    file: 'gateway.yaml',
    line: KEY_FILE_LINE,
    path: '/secrets/checkpointKeyFile',
    reason: `file not found: ${join(dir, '..', 'demo', 'keys', 'gateway-checkpoint.private.jwk.json')}`,
  }])
  await writeFile(join(dir, 'not-a-key.json'), '{"kty":"EC","crv":"P-256","x":"x","y":"y"}')
  t.match(await refused(t, dir, { NDX_CHECKPOINT_KEY_FILE: 'not-a-key.json' }), [{ path: '/secrets/checkpointKeyFile', reason: /not-a-key\.json holds no private key/ }], 'a public key where a private one is needed')
  await writeFile(join(dir, 'garbage.json'), 'not json')
  t.match(await refused(t, dir, { NDX_CHECKPOINT_KEY_FILE: 'garbage.json' }), [{ reason: /garbage\.json is not JSON/ }])
})

t.test(
  'the gateway started on a copied directory refuses it with the same config error, never an ENOENT stack',
  async (t) => {
    const dir = await copyConfig(t)
    await rm(join(dir, '..', 'demo'))
    const lines: string[] = []
    const logger = pino(
      { level: 'info' },
      new Writable({
        write (chunk, _enc, done) {
          lines.push(String(chunk))
          done()
        },
      })
    )
    await t.rejects(
      startGateway(readEnvironment({ CONFIG_DIR: dir, DATA_DIR: await tempDir(t), PORT: '0' }), logger),
      {
        name: 'ConfigError',
        issues: [{ file: 'gateway.yaml', path: '/secrets/checkpointKeyFile', reason: /^file not found: / }],
      }
    )
    const fatal = lines
      .map((l) => JSON.parse(l) as { msg: string; issues?: unknown[] })
      .find((l) => l.msg === 'configuration refused')
    t.match(
      fatal?.issues,
      [{ file: 'gateway.yaml', line: KEY_FILE_LINE, path: '/secrets/checkpointKeyFile' }],
      'the log names the file and line'
    )
    t.notMatch(lines.join(''), /ENOENT/, 'no ENOENT stack')
  }
)

const LAND = (mapping: string): string => `service: land-registry
upstream: { baseUrl: "http://127.0.0.1:4199" }
operations:
  parcel:
    method: GET
    path: /parcels/{parcelId}
    params: { parcelId: { type: string, pattern: "^[0-9]{10}$" } }
    subject: parcelId
    request: { method: GET, path: "/api/thua-dat/{parcelId}" }
    response:
      parcelId: /maThua
      ${mapping}
`

t.test('type: map requires values; values without type: map is an error', async (t) => {
  const dir = await copyConfig(t)
  const file = join(dir, 'adapters', 'land-registry.yaml')
  await writeFile(file, LAND('landUse: { from: /mucDich, type: map }'))
  t.same(await refused(t, dir), [
    {
      file: 'adapters/land-registry.yaml',
      line: 12,
      path: '/operations/parcel/response/landUse/values',
      reason: 'is required with type: map (the native codes and the canonical value of each)',
    },
  ])
  await writeFile(file, LAND('landUse: { from: /mucDich, values: { ODT: urban } }'))
  t.match(await refused(t, dir), [{ path: '/operations/parcel/response/landUse/values', reason: /only used with type: map \(this field is type: string\)/ }])
  await writeFile(file, LAND('landUse: { from: /mucDich, type: map, values: { ODT: urban } }'))
  const config = await loadConfig(dir, {})
  t.same(config.services['land-registry']?.operations.parcel?.response?.landUse, {
    from: '/mucDich',
    type: 'map',
    values: { ODT: 'urban' },
  })
  await writeFile(file, LAND('landUse: { from: /mucDich, type: map, valuse: { ODT: urban } }'))
  t.same(
    (await refused(t, dir)).map(formatIssue),
    [
      'adapters/land-registry.yaml:12 /operations/parcel/response/landUse/valuse: ' +
        'unknown property (did you mean `values`?)',
    ],
    'one message: the misspelling, not also the missing values'
  )
})

t.test('a mapping that is neither a pointer nor a mapping says what it may be', async (t) => {
  const dir = await copyConfig(t)
  await writeFile(join(dir, 'adapters', 'land-registry.yaml'), LAND('landUse: 42\n      owner: chuSuDung'))
  t.same((await refused(t, dir)).map(formatIssue).sort(), [
    'adapters/land-registry.yaml:12 /operations/parcel/response/landUse: must be a JSON pointer into the ' +
      "registry's record, e.g. /hoVaTen, or a mapping { from: <JSON pointer>, " +
      'type: string|number|boolean|date-dmy|map, values: {...} }',
    'adapters/land-registry.yaml:13 /operations/parcel/response/owner: must match the pattern ^(/([^~]|~[01])*)*$ ' +
      "(a JSON pointer into the registry's record, e.g. /hoVaTen)",
  ])
})

t.test('an agency with neither keys nor jwksUrl is told it needs one', async (t) => {
  const dir = await copyConfig(t)
  await writeFile(join(dir, 'agencies', 'VN.NEW.yaml'), 'id: VN.NEW\nname: x\nroles: [auditor]\n')
  t.same(await refused(t, dir), [
    { file: 'agencies/VN.NEW.yaml', line: 1, path: '', reason: 'needs `keys` or `jwksUrl`' },
  ])
})

t.test(
  'every config file names its JSON Schema for editors (yaml-language-server), and the schema exists',
  async (t) => {
    const { readdir } = await import('node:fs/promises')
    const { existsSync } = await import('node:fs')
    const { dirname, resolve } = await import('node:path')
    const { projectPath } = await import('../../core/paths.js')
    const files = [
      'gateway.yaml',
      ...(await readdir(projectPath('config', 'agencies'))).map((f) => `agencies/${f}`),
      ...(await readdir(projectPath('config', 'adapters'))).map((f) => `adapters/${f}`),
    ]
    t.ok(files.length >= 12)
    for (const file of files) {
      const first = (await readFile(projectPath('config', file), 'utf8')).split('\n')[0] ?? ''
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first)
      t.ok(m, `${file} starts with a $schema line`)
      const schema = resolve(dirname(projectPath('config', file)), m?.[1] ?? '')
      const kind = file === 'gateway.yaml' ? 'gateway' : file.startsWith('agencies/') ? 'agency' : 'adapter'
      t.equal(schema, projectPath('schemas', `${kind}.schema.json`), `${file} points at the ${kind} schema`)
      t.ok(existsSync(schema))
    }
  }
)
