/**
 * Agencies that publish keys at a jwksUrl: keys are fetched, cached, refreshed when a token names a new
 * kid (at most once per cooldown), and kept when the endpoint fails.
 */
import t from 'tap'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { JWK } from 'jose'
import { loadConfig } from '../../gateway/config/load-config.js'
import { generateAgencyKey, signerFromJwk, signRequest, type PrivateKeyFile } from '../../sdk/index.js'
import { buildTestGateway, copyConfig, sharedSimulators } from '../helpers/gateway.js'

t.test('keys from a JWKS endpoint', async (t) => {
  const served: JWK[] = []
  let fetches = 0
  let failing = false
  const server = createServer((_req, res) => {
    fetches++
    if (failing) { res.writeHead(500).end(); return }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: served }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const port = (server.address() as { port: number }).port

  const dir = await copyConfig(t)
  const gw = await readFile(join(dir, 'gateway.yaml'), 'utf8')
  await writeFile(
    join(dir, 'gateway.yaml'),
    gw.replace('jwks:\n  cacheSeconds: 300', 'jwks:\n  cacheSeconds: 300\n  refreshCooldownSeconds: 1')
  )
  await writeFile(join(dir, 'agencies', 'VN.JWKS.TEST.yaml'), [
    'id: VN.JWKS.TEST',
    'name: An agency publishing its keys',
    'roles: [consumer]',
    `jwksUrl: http://127.0.0.1:${port}/.well-known/jwks.json`,
    'grants:',
    '  business-registry.enterprise: { fields: [name], purposes: "*" }',
  ].join('\n'))
  const sims = await sharedSimulators(t)
  const { app } = await buildTestGateway(t, { config: await loadConfig(dir, sims.env) })

  const a = await generateAgencyKey('jwks-a')
  served.push({ ...a.publicJwk, kid: 'jwks-a' })
  const target = '/v1/business-registry/enterprises/2627349851'
  const call = async (key: PrivateKeyFile) => {
    const token = await signRequest(await signerFromJwk('VN.JWKS.TEST', key), { method: 'GET', target })
    return app.inject({ method: 'GET', url: target, headers: { authorization: `Bearer ${token}` } })
  }

  t.equal((await call(a.privateJwk)).statusCode, 200, 'first token: keys fetched')
  t.equal((await call(a.privateJwk)).statusCode, 200, 'second token: keys cached')
  t.equal(fetches, 1)

  const b = await generateAgencyKey('jwks-b')
  served.push({ ...b.publicJwk, kid: 'jwks-b' })
  await sleep(1100)
  t.equal((await call(b.privateJwk)).statusCode, 200, 'a new kid triggers a refresh')
  t.equal(fetches, 2)

  const c = await generateAgencyKey('jwks-c')
  const first = await call(c.privateJwk)
  const second = await call(c.privateJwk)
  t.equal(JSON.parse(first.body).code, 'auth.unknown_key')
  t.equal(JSON.parse(second.body).code, 'auth.unknown_key')
  t.equal(fetches, 2, 'within the cooldown an unknown kid does not fetch again')

  failing = true
  await sleep(1100)
  t.equal(JSON.parse((await call(c.privateJwk)).body).code, 'auth.unknown_key')
  t.equal(fetches, 3, 'after the cooldown it tries again')
  t.equal((await call(a.privateJwk)).statusCode, 200, 'a failed refresh keeps the keys already known')
})
