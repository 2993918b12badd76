/**
 * CONTRACT §2: configuration files are validated against their schemas and each other; any issue refuses
 * the whole directory, and every issue names file, path and reason.
 */
import t from 'tap'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../gateway/config/load-config.js'
import { refused } from '../helpers/config.js'
import { copyConfig, DEMO_CONFIG } from '../helpers/gateway.js'

async function edit (dir: string, file: string, fn: (text: string) => string): Promise<void> {
  await writeFile(join(dir, file), fn(await readFile(join(dir, file), 'utf8')))
}

t.test('the demo configuration loads, typed, with defaults applied and frozen', async (t) => {
  const config = await loadConfig(DEMO_CONFIG, {})
  t.same(Object.keys(config.services).sort(), ['business-registry', 'civil-status', 'population'])
  t.equal(Object.keys(config.agencies).length, 8)
  t.equal(config.gateway.id, 'ndx-gateway')
  t.equal(config.gateway.maxClockSkewSeconds, 60)
  t.equal(config.gateway.limits.tokenBytes, 8192, 'a default from the schema')
  t.equal(config.services.population?.upstream.baseUrl, 'http://127.0.0.1:4101', '${NAME:-default} falls back')
  t.equal(config.services['business-registry']?.upstream.headers.Authorization, 'Bearer demo-business-registry-key')
  t.match(config.services.population?.operations.citizen, {
    route: '/v1/population/citizens/{personalId}',
    subject: 'personalId',
    cache: { ttlSeconds: 3600 },
  })
  t.equal(config.services.population?.operations.citizen?.params.personalId?.in, 'path')
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.agencies['VN.BHXH']?.grants))
  t.match(config.digest, /^[0-9a-f]{16}$/)
})

t.test('${NAME} comes from the environment', async (t) => {
  const config = await loadConfig(DEMO_CONFIG, { POPULATION_URL: 'http://registry.internal:9000', POPULATION_API_KEY: 'k-1' })
  t.equal(config.services.population?.upstream.baseUrl, 'http://registry.internal:9000')
  t.equal(config.services.population?.upstream.headers['X-Api-Key'], 'k-1')
})

t.test('a missing variable without default is an issue naming the file and path', async (t) => {
  const dir = await copyConfig(t)
  await edit(dir, 'adapters/population.yaml', (s) =>
    s.replace('"${POPULATION_API_KEY:-demo-population-key}"', '"${POPULATION_API_KEY}"')
  )
  const issues = await refused(t, dir)
  t.match(issues, [{ file: 'adapters/population.yaml', line: 12, path: '/upstream/headers/X-Api-Key', reason: /^environment variable POPULATION_API_KEY is not set/ }])
  t.equal(issues.length, 1)
})

t.test('schema violations name the member and the reason', async (t) => {
  const dir = await copyConfig(t)
  await edit(dir, 'agencies/VN.BHXH.yaml', (s) =>
    s.replace('roles: [consumer]', 'roles: [consumer, superuser]\ncolour: blue')
  )
  await edit(dir, 'adapters/civil-status.yaml', (s) => s.replace('timeoutMs: 3000', 'timeoutMs: fast'))
  const issues = await refused(t, dir)
  t.match(issues, [
    { file: 'adapters/civil-status.yaml', path: '/upstream/timeoutMs', reason: /integer/ },
    { file: 'agencies/VN.BHXH.yaml', path: '/roles/1', reason: /must be one of/ },
    { file: 'agencies/VN.BHXH.yaml', path: '/colour', reason: 'unknown property' },
  ])
})

t.test('one bad file refuses the whole directory', async (t) => {
  const dir = await copyConfig(t)
  await writeFile(join(dir, 'agencies', 'VN.BROKEN.yaml'), 'id: VN.BROKEN\nname: [unclosed\n')
  const issues = await refused(t, dir)
  t.equal(issues.length, 1)
  t.equal(issues[0]?.file, 'agencies/VN.BROKEN.yaml')
  t.match(issues[0]?.reason, /^not valid YAML\/JSON/)
})

t.test('duplicate keys in a file are refused', async (t) => {
  const dir = await copyConfig(t)
  await writeFile(join(dir, 'agencies', 'VN.DUP.yaml'), 'id: VN.DUP\nname: a\nname: b\nroles: [consumer]\nkeys: []\n')
  const issues = await refused(t, dir)
  t.match(issues[0], { file: 'agencies/VN.DUP.yaml', reason: /not valid YAML\/JSON.*(unique|duplicate)/i })
})

t.test('JSON files are read too, and file names must match ids', async (t) => {
  const dir = await copyConfig(t)
  const yaml = await readFile(join(dir, 'agencies', 'VN.TTCP.yaml'), 'utf8')
  await rm(join(dir, 'agencies', 'VN.TTCP.yaml'))
  const { parse } = await import('yaml')
  await writeFile(join(dir, 'agencies', 'VN.TTCP.json'), JSON.stringify(parse(yaml)))
  t.ok((await loadConfig(dir, {})).agencies['VN.TTCP'], 'a JSON agency file')
  await writeFile(join(dir, 'agencies', 'VN.OTHER.json'), JSON.stringify({ ...parse(yaml) }))
  const issues = await refused(t, dir)
  t.same(issues, [
    { file: 'agencies/VN.OTHER.json', path: '/id', reason: 'must match the file name (VN.OTHER)', line: 1 },
  ])
})

t.test('keys must be public, strong and of an accepted type', async (t) => {
  const dir = await copyConfig(t)
  const { generateKeyPairSync } = await import('node:crypto')
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' })
  const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey.export({ format: 'jwk' })
  const priv = JSON.parse(await readFile(join(DEMO_CONFIG, '..', 'demo', 'keys', 'VN.BHXH.private.jwk.json'), 'utf8'))
  await writeFile(join(dir, 'agencies', 'VN.KEYS.json'), JSON.stringify({
    id: 'VN.KEYS',
    name: 'bad keys',
    roles: ['consumer'],
    keys: [
      { kid: 'private', jwk: priv },
      { kid: 'weak', jwk: weak },
      { kid: 'curve', jwk: p521 },
      { kid: 'garbage', jwk: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'BBBB' } },
      { kid: 'garbage', jwk: { ...priv, d: undefined } },
    ],
  }))
  const issues = await refused(t, dir)
  t.match(issues, [
    { path: '/keys/0/jwk', reason: /private key material/ },
    { path: '/keys/1/jwk', reason: 'RSA keys need at least 2048 bits' },
    { path: '/keys/2/jwk', reason: /not accepted/ },
    { path: '/keys/3/jwk', reason: 'not a valid public key' },
    { path: '/keys/4/kid', reason: 'kid garbage is used twice' },
  ])
})

t.test('grants must name configured operations and their fields, with purposes for personal data', async (t) => {
  const dir = await copyConfig(t)
  await edit(dir, 'agencies/VN.BHXH.yaml', (s) =>
    s
      .replace('purposes: [social-insurance] }\n  civil-status.events', 'purposes: [] }\n  civil-status.events')
      .replace(
        'fields: [personalId, fullName, dateOfBirth, gender, permanentAddress, father',
        'fields: [personalId, shoeSize, dateOfBirth, gender, permanentAddress, father'
      )
      .replace(
        'grants:',
        'grants:\n  land-registry.parcel: { fields: "*", purposes: "*" }\n' +
          '  population.census: { fields: "*", purposes: "*" }'
      )
  )
  const issues = await refused(t, dir)
  t.match(issues, [
    {
      file: 'agencies/VN.BHXH.yaml',
      path: '/grants/land-registry.parcel',
      reason: 'no service land-registry is configured',
    },
    { path: '/grants/population.census', reason: 'service population has no operation census' },
    { path: '/grants/population.citizen/fields', reason: 'shoeSize is not a field of population.citizen' },
    { path: '/grants/population.verify/purposes', reason: /personal data/ },
  ])
})

t.test('roles must fit grants and sources', async (t) => {
  const dir = await copyConfig(t)
  await edit(dir, 'agencies/VN.EVN.HCMC.yaml', (s) => s.replace('roles: [consumer]', 'roles: [auditor]'))
  await edit(dir, 'agencies/VN.BCA.C06.yaml', (s) =>
    s.replace('sources: [population]', 'sources: [population, land-registry]')
  )
  await edit(dir, 'agencies/VN.BTP.HT.yaml', (s) => s.replace('roles: [source]', 'roles: [admin]'))
  const issues = await refused(t, dir)
  t.match(issues, [
    { file: 'agencies/VN.BCA.C06.yaml', path: '/sources/1', reason: 'no service land-registry is configured' },
    { file: 'agencies/VN.BTP.HT.yaml', path: '/roles', reason: 'sources need the source role' },
    { file: 'agencies/VN.EVN.HCMC.yaml', path: '/roles', reason: 'grants need the consumer role' },
  ])
})

t.test('adapter files: coded adapters, declarative mappings, params and routes are checked', async (t) => {
  const dir = await copyConfig(t)
  await edit(dir, 'adapters/population.yaml', (s) => s.replace('adapter: population', 'adapter: populace'))
  await edit(dir, 'adapters/civil-status.yaml', (s) =>
    s.replace(
      '  marital-status:',
      '  divorces:\n    method: GET\n    path: /persons/{personalId}/divorces\n' +
        '    params: { personalId: { type: string } }\n    subject: personalId\n  marital-status:'
    )
  )
  await writeFile(join(dir, 'adapters', 'land-registry.yaml'), [
    'service: land-registry',
    'upstream: { baseUrl: "http://127.0.0.1:4199" }',
    'operations:',
    '  parcel:',
    '    method: GET',
    '    path: /parcels/{parcelId}',
    '    params: { parcelId: { type: string, pattern: "([" } }',
    '    subject: owner',
    '    request: { path: "/api/{parcel}" }',
    '    response: { parcelId: /maThua }',
    '  again:',
    '    method: GET',
    '    path: /parcels/{code}',
    '    params: { code: { type: string } }',
    '    subject: code',
  ].join('\n'))
  const issues = await refused(t, dir)
  t.match(issues, [
    {
      file: 'adapters/civil-status.yaml',
      path: '/operations/divorces',
      reason: 'is not an operation of the civil-status adapter',
    },
    {
      file: 'adapters/land-registry.yaml',
      path: '/operations/parcel/params/parcelId/pattern',
      reason: 'is not a valid regular expression',
    },
    { path: '/operations/parcel/subject', reason: 'names no declared param (owner)' },
    { path: '/operations/parcel/request', reason: 'uses {parcel}, which is not a declared param' },
    { path: '/operations/again/request', reason: 'is required for the declarative HTTP adapter' },
    { path: '/operations/again/response', reason: 'is required for the declarative HTTP adapter' },
    { path: '/operations/again/path', reason: 'has the same route as operation parcel' },
    { file: 'adapters/population.yaml', path: '/adapter', reason: /no coded adapter named populace/ },
  ])
  t.equal(issues.length, 8)
})

t.test('gateway.yaml: required, one only, secrets of the right size', async (t) => {
  const dir = await copyConfig(t)
  await edit(dir, 'gateway.yaml', (s) =>
    s.replace('"${NDX_CACHE_KEY:-ZGVtby1vbmx5LWNhY2hlLWtleS0wMDAwMDAwMDAwMDA=}"', 'c2hvcnQ=')
  )
  t.match(await refused(t, dir), [
    { file: 'gateway.yaml', path: '/secrets/cacheKeys/0/key', reason: 'must be 32 bytes, base64-encoded' },
  ])
  await writeFile(join(dir, 'gateway.json'), '{}')
  t.match(await refused(t, dir), [{ file: 'gateway.yaml', reason: /keep one/ }])
  await rm(join(dir, 'gateway.json'))
  await rm(join(dir, 'gateway.yaml'))
  t.match(await refused(t, dir), [{ file: 'gateway.yaml', reason: 'missing' }])
  await mkdir(join(dir, 'empty'))
  t.match(await refused(t, join(dir, 'nowhere')), [{ reason: 'configuration directory not found' }])
})
