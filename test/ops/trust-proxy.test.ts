/**
 * The per-address bound of unverifiable requests (CONTRACT §4 v1.1, README security) keys on the client's
 * address. A client cannot pick its own by sending X-Forwarded-For; behind the compose load balancer
 * (TRUST_PROXY=1) each client behind it still has its own count, not one shared by the balancer's address.
 */
import t, { type Test } from 'tap'
import { appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../gateway/config/load-config.js'
import { readEnvironment } from '../../gateway/config/env.js'
import { composeGateway } from '../../gateway/compose.js'
import { standaloneServices } from '../../gateway/services.js'
import { copyConfig, json, sharedSimulators } from '../helpers/gateway.js'
import { baseClaims, unsigned } from '../helpers/tokens.js'

const TARGET = '/v1/business-registry/enterprises/2627349851'
const HEADER = { alg: 'ES256', kid: 'dng-2026-01', typ: 'ndx+jwt' }
const FORGED = `${unsigned(HEADER, baseClaims('VN.LOC.DNG', 'GET', TARGET))}x`

async function gateway (t: Test, trustProxy: number | false) {
  const sims = await sharedSimulators(t)
  const dir = await copyConfig(t)
  await appendFile(join(dir, 'gateway.yaml'), 'quota:\n  unauthenticatedPerMinute: 3\n')
  const config = await loadConfig(dir, sims.env)
  const services = standaloneServices(config)
  const app = await composeGateway({ config, services, trustProxy })
  t.teardown(async () => { await app.close(); await services.close() })
  return (peer: string, forwardedFor: string) =>
    app
      .inject({
        method: 'GET',
        url: TARGET,
        remoteAddress: peer,
        headers: { authorization: `Bearer ${FORGED}`, 'x-forwarded-for': forwardedFor },
      })
      .then((r) => json(r).code)
}

t.test('TRUST_PROXY is read as hops or addresses, never as a blanket true', async (t) => {
  t.equal(readEnvironment({}).trustProxy, false)
  t.equal(readEnvironment({ TRUST_PROXY: '1' }).trustProxy, 1)
  t.equal(readEnvironment({ TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).trustProxy, '10.0.0.0/8,127.0.0.1')
  t.throws(() => readEnvironment({ TRUST_PROXY: 'true' }), /TRUST_PROXY/)
})

t.test('without a trusted proxy, a spoofed X-Forwarded-For does not escape the bound', async (t) => {
  const send = await gateway(t, false)
  const codes = []
  for (let i = 0; i < 5; i++) codes.push(await send('198.51.100.7', `203.0.113.${i}`))
  t.same(codes.slice(3), ['quota.exceeded', 'quota.exceeded'], 'one count for the real peer, whatever it claims')
})

t.test('behind one trusted proxy, each client behind it has its own count', async (t) => {
  const send = await gateway(t, 1)
  for (let i = 0; i < 3; i++) await send('10.0.0.2', '203.0.113.1')
  t.equal(await send('10.0.0.2', '203.0.113.1'), 'quota.exceeded', 'the flooding client is bounded')
  t.equal(await send('10.0.0.2', '203.0.113.2'), 'auth.signature', 'another client behind the same balancer is not')
})
