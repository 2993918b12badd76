/**
 * Hot reload: POST /v1/admin/reload and SIGHUP re-read CONFIG_DIR. Under concurrent load nothing fails;
 * a refused directory leaves the running configuration serving; a registry added by one file is served.
 */
import t, { type Test } from 'tap'
import { readFile, writeFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig } from '../../gateway/config/load-config.js'
import { composeGateway } from '../../gateway/compose.js'
import { standaloneServices } from '../../gateway/services.js'
import { copyConfig, json, sharedSimulators, signedInject } from '../helpers/gateway.js'
import { addLandRegistry, startLandRegistry } from '../helpers/land-registry.js'

async function reloadableGateway (t: Test, env: Record<string, string> = {}) {
  const sims = await sharedSimulators(t)
  const dir = await copyConfig(t)
  const vars = { ...sims.env, ...env }
  const config = await loadConfig(dir, vars)
  const services = standaloneServices(config)
  const app = await composeGateway({ config, services, loadConfig: () => loadConfig(dir, vars) })
  t.teardown(async () => { await app.close(); await services.close() })
  await app.ready()
  return { app, dir, sims }
}

const reload = (app: Parameters<typeof signedInject>[0]) => signedInject(app, 'VN.NDXP.OPS', 'POST', '/v1/admin/reload')

t.test('reloads under concurrent load: zero failed requests', async (t) => {
  const { app, dir } = await reloadableGateway(t)
  const agencyFile = join(dir, 'agencies', 'VN.LOC.DNG.yaml')
  const original = await readFile(agencyFile, 'utf8')
  let stop = false
  const statuses: number[] = []
  const loop = async (i: number): Promise<void> => {
    while (!stop) {
      const res =
        i % 2 === 0
          ? await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851?fields=name')
          : await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/030075654294?fields=fullName', {
            purpose: 'public-service',
          })
      statuses.push(res.statusCode)
    }
  }
  const loops = Array.from({ length: 8 }, (_, i) => loop(i))
  const digests: string[] = []
  for (let i = 0; i < 6; i++) {
    await sleep(150)
    // Alternate between two valid configurations: the quota changes, the grants used by the load do not.
    await writeFile(agencyFile, i % 2 === 0 ? original.replace('perMinute: 6000', 'perMinute: 7000') : original)
    const res = await reload(app)
    t.equal(res.statusCode, 200, `reload ${i + 1} applied`)
    digests.push((json(res) as { digest: string }).digest)
  }
  stop = true
  await Promise.all(loops)
  t.ok(statuses.length > 100, `${statuses.length} requests during 6 reloads`)
  t.same([...new Set(statuses)], [200], 'every one of them served')
  t.equal(new Set(digests).size, 2, 'the configuration really changed back and forth')
})

t.test('a refused directory leaves the running configuration serving', async (t) => {
  const { app, dir } = await reloadableGateway(t)
  const before = (json(await app.inject({ url: '/health/ready' })).checks as { config: string }).config
  await writeFile(
    join(dir, 'agencies', 'VN.BROKEN.yaml'),
    'id: VN.BROKEN\nname: broken\nroles: [consumer]\nkeys: []\ngrants:\n' +
      '  population.citizen: { fields: [everything], purposes: [x] }\n' +
      '  business-registry.enterprise: { fields: [everything], purposes: "*" }\n'
  )
  await writeFile(
    join(dir, 'adapters', 'population.yaml'),
    (await readFile(join(dir, 'adapters', 'population.yaml'), 'utf8')).replace('timeoutMs: 3000', 'timeoutMs: soon')
  )
  const res = await reload(app)
  t.equal(res.statusCode, 400)
  t.match(json(res), {
    code: 'request.invalid',
    title: 'The configuration directory was refused',
    detail: /refused \(2 issue\(s\)\); the running configuration keeps serving/,
    errors: [
      { in: 'config', name: 'adapters/population.yaml#/upstream/timeoutMs', reason: /integer/ },
      {
        in: 'config',
        name: 'agencies/VN.BROKEN.yaml#/grants/business-registry.enterprise/fields',
        reason: 'everything is not a field of business-registry.enterprise',
      },
    ],
  })
  t.equal((json(res).errors as unknown[]).length, 2, 'grants to the refused service are not reported again')
  const still = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/030075654294', {
    purpose: 'public-service',
  })
  t.equal(still.statusCode, 200)
  t.equal((json(await app.inject({ url: '/health/ready' })).checks as { config: string }).config, before, 'same digest')
  t.equal(
    json(await signedInject(app, 'VN.LOC.DNG', 'POST', '/v1/admin/reload', { purpose: 'public-service' })).code,
    'access.role',
    'only admins reload'
  )
  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, /ndx_config_reloads_total\{result="refused"\} 1/)
})

t.test(
  'a JSON registry added by one file and a reload is served, and in-flight requests finish on their configuration',
  async (t) => {
    const land = await startLandRegistry()
    t.teardown(() => land.close())
    const { app, dir } = await reloadableGateway(t, { LAND_URL: land.url })
    const target = '/v1/land-registry/parcels/0101000001'
    t.equal(
      json(await signedInject(app, 'VN.LOC.DNG', 'GET', target, { purpose: 'public-service' })).code,
      'route.not_found'
    )
    await addLandRegistry(dir)
    const applied = await reload(app)
    t.match(json(applied), { applied: true, services: 4, operations: 7, restartRequired: [] })
    const res = await signedInject(app, 'VN.LOC.DNG', 'GET', target, { purpose: 'public-service' })
    t.equal(res.statusCode, 200)
    t.match(json(res).data, { parcelId: '0101000001', landUse: 'urban-residential' })
    const doc = json(await app.inject({ url: '/openapi.json' })) as { paths: Record<string, unknown> }
    t.ok(doc.paths['/v1/land-registry/parcels/{parcelId}'], 'the OpenAPI document follows the reload')

    // A slow lookup is in flight while the registry is removed again.
    const { sims } = await reloadableGateway(t)
    sims.population.settings.latencyMs = 400
    t.teardown(() => {
      sims.population.settings.latencyMs = 0
    })
    const inFlight = signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/001154711812', {
      purpose: 'public-service',
    })
    await sleep(100)
    await rm(join(dir, 'adapters', 'land-registry.yaml'))
    await writeFile(
      join(dir, 'agencies', 'VN.LOC.DNG.yaml'),
      (await readFile(join(dir, 'agencies', 'VN.LOC.DNG.yaml'), 'utf8')).replace(/ {2}land-registry\..*\n/g, '')
    )
    t.equal((await reload(app)).statusCode, 200)
    t.equal((await inFlight).statusCode, 200, 'the request in flight finished')
    t.equal(
      json(await signedInject(app, 'VN.LOC.DNG', 'GET', target, { purpose: 'public-service' })).code,
      'route.not_found'
    )
  }
)

t.test('SIGHUP reloads a running gateway', async (t) => {
  const { startGateway } = await import('../../gateway/server.js')
  const { readEnvironment } = await import('../../gateway/config/env.js')
  const { pino } = await import('pino')
  const { tempDir } = await import('../helpers/txlog.js')
  const sims = await sharedSimulators(t)
  const dir = await copyConfig(t)
  const env = readEnvironment({
    ...sims.env,
    CONFIG_DIR: dir,
    PORT: '0',
    DATA_DIR: await tempDir(t),
    NDX_CHECKPOINT_KEY_FILE: join(process.cwd(), 'demo', 'keys', 'gateway-checkpoint.private.jwk.json'),
  })
  const gw = await startGateway(env, pino({ level: 'silent' }))
  t.teardown(() => gw.close())
  const digest = async () => (json(await gw.app.inject({ url: '/health/ready' })).checks as { config: string }).config
  const before = await digest()
  await writeFile(
    join(dir, 'agencies', 'VN.TTCP.yaml'),
    (await readFile(join(dir, 'agencies', 'VN.TTCP.yaml'), 'utf8')).replace('(data-sharing audit)', '(audit)')
  )
  process.emit('SIGHUP')
  let after = before
  for (let i = 0; i < 40 && after === before; i++) {
    await sleep(50)
    after = await digest()
  }
  t.not(after, before, 'the new configuration is serving')
})
