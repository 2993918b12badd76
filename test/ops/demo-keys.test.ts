/**
 * Demo agency keys are public (demo/keys): a gateway that trusts any of them says so loudly at startup,
 * naming the agencies and their roles; a configuration with keys of its own starts quietly.
 */
import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { Writable } from 'node:stream'
import { calculateJwkThumbprint, type JWK } from 'jose'
import { pino } from 'pino'
import { readEnvironment } from '../../gateway/config/env.js'
import { demoAgencies, DEMO_KEY_THUMBPRINTS } from '../../gateway/ops/demo-keys.js'
import { projectPath } from '../../core/paths.js'
import { startGateway } from '../../gateway/server.js'
import { generateAgencyKey } from '../../sdk/index.js'
import { DEMO_CONFIG, demoConfig, sharedSimulators } from '../helpers/gateway.js'
import { CHECKPOINT_ENV, tempDir } from '../helpers/txlog.js'

t.test('the list of demo key thumbprints is exactly demo/keys', async (t) => {
  const files = (await readdir(projectPath('demo', 'keys'))).filter((f) => f.startsWith('VN.'))
  const thumbprints = await Promise.all(
    files.map(async (f) =>
      calculateJwkThumbprint(JSON.parse(await readFile(projectPath('demo', 'keys', f), 'utf8')) as JWK)
    )
  )
  t.same([...thumbprints].sort(), [...DEMO_KEY_THUMBPRINTS].sort())
})

t.test('every demo agency is found, the admin and the auditor among them; fresh keys are not', async (t) => {
  const config = await demoConfig(t)
  const found = await demoAgencies(config)
  t.equal(found.length, Object.keys(config.agencies).length)
  t.match(found.find((a) => a.id === 'VN.NDXP.OPS'), { roles: ['admin'] })
  t.ok(found.some((a) => a.roles.includes('auditor')))
  const fresh = await generateAgencyKey('own-2026-01')
  const agencies = Object.fromEntries(
    Object.entries(config.agencies).map(([id, a]) => [
      id,
      { ...a, keys: [{ kid: 'own-2026-01', jwk: fresh.publicJwk }] },
    ])
  )
  t.same(await demoAgencies({ ...config, agencies }), [], 'agencies with keys of their own are not flagged')
})

t.test('a gateway started with the demo agencies logs it loudly (error level), naming them', async (t) => {
  const sims = await sharedSimulators(t)
  const lines: Array<Record<string, unknown>> = []
  const logger = pino(
    { level: 'info' },
    new Writable({
      write (chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>)
        done()
      },
    })
  )
  const env = readEnvironment({
    ...sims.env,
    ...CHECKPOINT_ENV,
    CONFIG_DIR: DEMO_CONFIG,
    PORT: '0',
    DATA_DIR: await tempDir(t),
  })
  const gw = await startGateway(env, logger)
  await gw.close()
  const loud = lines.find((l) => String(l.msg).startsWith('DEMO AGENCY KEYS LOADED'))
  t.equal(loud?.level, 50, 'at error level')
  t.ok((loud?.agencies as Array<{ id: string }>).some((a) => a.id === 'VN.NDXP.OPS'), 'the admin agency is named')
})
