/**
 * One platform across instances, with three real gateway processes on one Redis and one PostgreSQL:
 * a reload accepted by one instance reaches every instance within 2 s (seen in GET /v1/admin/instances
 * and in what each one serves), and a changed mapping never serves a record kept under the old one.
 */
import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { sharedSimulators } from '../helpers/gateway.js'
import { addLandRegistry, startLandRegistry, PARCEL } from '../helpers/land-registry.js'
import { freshDatabase } from '../helpers/postgres.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { CHECKPOINT_ENV, configWithPrefix, tempDir } from '../helpers/txlog.js'
import { signedCall, startGatewayProcess, type GatewayProcess } from './gateway-process.js'

const ADMIN = 'VN.NDXP.OPS'
const PARCEL_TARGET = `/v1/land-registry/parcels/${PARCEL.maThua}`

interface Instance { id: string, configDigest: string, lastReload: { at: string, result: string } | null }
const instances = async (gw: GatewayProcess): Promise<Instance[]> =>
  (await signedCall(gw.url, ADMIN, 'GET', '/v1/admin/instances')).body.instances as Instance[]
const parcel = (gw: GatewayProcess) =>
  signedCall(gw.url, 'VN.LOC.DNG', 'GET', PARCEL_TARGET, { purpose: 'public-service' })

/** Edits the land-registry adapter file, reloads on `via`, and waits until every instance serves the new digest. */
async function reloadEverywhere (
  gws: GatewayProcess[],
  via: GatewayProcess,
  file: string,
  edit: (yaml: string) => string
): Promise<{ ms: number; digest: string }> {
  const before = (await instances(via))[0]?.configDigest
  await writeFile(file, edit(await readFile(file, 'utf8')))
  const res = await signedCall(via.url, ADMIN, 'POST', '/v1/admin/reload')
  if (res.status !== 200) throw new Error(`reload refused: ${JSON.stringify(res.body)}`)
  const accepted = Date.now()
  const digest = res.body.digest as string
  if (digest === before) throw new Error('the edit did not change the configuration')
  for (;;) {
    const seen = await Promise.all(gws.map(async (gw) => (await instances(gw)).map((i) => i.configDigest)))
    if (seen.every((digests) => digests.length === gws.length && digests.every((d) => d === digest))) {
      return { ms: Date.now() - accepted, digest }
    }
    if (Date.now() - accepted > 10_000) throw new Error(`not every instance reloaded: ${JSON.stringify(seen)}`)
    await sleep(50)
  }
}

t.test('three gateway processes on one Redis and PostgreSQL', async (t) => {
  const sims = await sharedSimulators(t)
  const land = await startLandRegistry()
  t.teardown(() => land.close())
  const { prefix } = await testRedis(t)
  const { dir } = await configWithPrefix(t, prefix)
  await addLandRegistry(dir)
  const adapterFile = join(dir, 'adapters', 'land-registry.yaml')
  const databaseUrl = await freshDatabase(t)
  const env = {
    ...sims.env,
    ...CHECKPOINT_ENV,
    LAND_URL: land.url,
    CONFIG_DIR: dir,
    REDIS_URL,
    DATABASE_URL: databaseUrl,
    NDX_WORKER: 'false',
  }
  const gws = await Promise.all(
    [0, 1, 2].map(async () => startGatewayProcess(t, { ...env, DATA_DIR: await tempDir(t) }))
  )

  t.test('every instance is listed, with its config digest and version', async (t) => {
    let listed: Instance[] = []
    for (let i = 0; i < 40 && listed.length < 3; i++) {
      listed = await instances(gws[0] as GatewayProcess)
      await sleep(100)
    }
    t.equal(listed.length, 3, 'three instances')
    t.equal(new Set(listed.map((i) => i.id)).size, 3, 'each with its own id')
    t.equal(new Set(listed.map((i) => i.configDigest)).size, 1, 'one configuration')
    t.match(listed[0], { id: String, startedAt: String, version: String, configDigest: String, lastReload: null })
  })

  t.test('a reload on one instance reaches every instance within 2 s', async (t) => {
    const before = await parcel(gws[2] as GatewayProcess)
    t.equal((before.body.data as Record<string, unknown>).mapSheet, '12')
    const { ms, digest } = await reloadEverywhere(gws, gws[0] as GatewayProcess, adapterFile, (y) =>
      y.replace('      mapSheet: /soTo\n', '      mapSheet: { from: /soTo, type: number }\n')
    )
    t.ok(ms <= 2000, `every instance serves the new configuration ${ms} ms after the reload was accepted`)
    const listed = await instances(gws[1] as GatewayProcess)
    t.same(listed.map((i) => i.lastReload?.result), ['applied', 'applied', 'applied'], 'each one says it reloaded')
    t.ok(listed.every((i) => i.configDigest === digest))
    for (const gw of gws) {
      const res = await parcel(gw)
      t.equal((res.body.data as Record<string, unknown>).mapSheet, 12, 'and serves the new mapping')
    }
  })

  t.test('a changed mapping never serves a record kept under the old one', async (t) => {
    const [a, b, c] = gws as [GatewayProcess, GatewayProcess, GatewayProcess]
    await parcel(a)
    const kept = await parcel(b)
    t.equal((kept.body.meta as { source: string }).source, 'reuse', 'the record is kept and shared')
    t.equal((kept.body.data as Record<string, unknown>).landUse, 'urban-residential')

    // A map's values change: the old code must never come back.
    await reloadEverywhere(gws, c, adapterFile, (y) => y.replace('ODT: urban-residential', 'ODT: residential-urban'))
    for (const gw of gws) {
      const res = await parcel(gw)
      t.equal(res.status, 200)
      t.equal(
        (res.body.data as Record<string, unknown>).landUse,
        'residential-urban',
        'the new code, never the old one'
      )
    }

    // A mapped field is renamed: the reply holds its value, not null.
    const requestsBefore = land.requests
    await reloadEverywhere(gws, a, adapterFile, (y) =>
      y.replace('      ownerName: /chuSuDung/hoVaTen\n', '      holderName: /chuSuDung/hoVaTen\n')
    )
    for (const gw of gws) {
      const res = await parcel(gw)
      const data = res.body.data as Record<string, unknown>
      t.equal(data.holderName, PARCEL.chuSuDung.hoVaTen, 'the renamed field has its value')
      t.notOk('ownerName' in data, 'and the old name is gone')
    }
    t.ok(land.requests > requestsBefore, 'the record was read again from the registry')

    // Reverting the rename does not bring back what was kept under the first mapping.
    await reloadEverywhere(gws, b, adapterFile, (y) =>
      y.replace('      holderName: /chuSuDung/hoVaTen\n', '      ownerName: /chuSuDung/hoVaTen\n')
    )
    const reverted = await parcel(c)
    t.equal(
      (reverted.body.meta as { source: string }).source,
      'upstream',
      'records kept before were dropped at the change'
    )
  })

  t.test('POST /v1/admin/purge drops the kept records of a service on every instance', async (t) => {
    const [a, b] = gws as [GatewayProcess, GatewayProcess]
    await parcel(a)
    t.equal(((await parcel(b)).body.meta as { source: string }).source, 'reuse')
    const purged = await signedCall(a.url, ADMIN, 'POST', '/v1/admin/purge', { body: { service: 'land-registry' } })
    t.equal(purged.status, 202)
    t.ok((purged.body.invalidated as number) >= 1, `${String(purged.body.invalidated)} record(s) dropped`)
    t.equal(((await parcel(b)).body.meta as { source: string }).source, 'upstream', 'the next call reads the registry')
    const one = await signedCall(b.url, ADMIN, 'POST', '/v1/admin/purge', {
      body: { service: 'land-registry', subject: PARCEL.maThua },
    })
    t.same([one.status, one.body], [202, { invalidated: 1 }], 'one subject')
    const refused = await signedCall(b.url, 'VN.LOC.DNG', 'POST', '/v1/admin/purge', {
      body: { service: 'land-registry' },
    })
    t.equal(refused.body.code, 'access.role', 'admins only')
  })
})
