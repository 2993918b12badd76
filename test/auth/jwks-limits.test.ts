/**
 * A hostile or broken `jwksUrl` (issue 10, item 4), against a running gateway and a real HTTP server: an
 * endless document is cut off at 256 KiB while it is read, a dripping one at the deadline, plain http to a
 * non-loopback address is never fetched, and tokens with made-up kids cannot make the gateway refetch.
 */
import t, { type Test } from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { JwksCache, jwksUrlProblem, MAX_JWKS_BYTES } from '../../gateway/auth/jwks.js'
import { loadConfig } from '../../gateway/config/load-config.js'
import { generateAgencyKey, signerFromJwk, signRequest } from '../../sdk/index.js'
import { buildTestGateway, copyConfig, sharedSimulators } from '../helpers/gateway.js'

const TARGET = '/v1/business-registry/enterprises/2627349851'
const CHUNK = Buffer.alloc(64 * 1024, 0x20)

interface Served { port: number, requests: number, written: number, closedAfterMs: number[] }

/** A JWKS endpoint run by the test: `behave` answers each request. */
type Behaviour = (req: IncomingMessage, res: ServerResponse, served: Served) => void

async function jwksServer (t: Test, behave: Behaviour): Promise<Served> {
  const served: Served = { port: 0, requests: 0, written: 0, closedAfterMs: [] }
  const server = createServer((req, res) => {
    served.requests++
    const started = Date.now()
    res.on('close', () => served.closedAfterMs.push(Date.now() - started))
    behave(req, res, served)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  served.port = (server.address() as { port: number }).port
  return served
}

/** Writes as fast as the client reads, forever (until the client goes away). */
function endless (res: ServerResponse, served: Served, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers })
  res.write('{"keys":[')
  const pump = (): void => {
    while (!res.destroyed) {
      served.written += CHUNK.length
      if (!res.write(CHUNK)) { res.once('drain', pump); return }
    }
  }
  pump()
}

async function gatewayWithJwks (t: Test, url: string, timeoutMs = 1500): Promise<FastifyInstance> {
  const dir = await copyConfig(t)
  const gw = await readFile(join(dir, 'gateway.yaml'), 'utf8')
  const jwks = `jwks:\n  cacheSeconds: 300\n  timeoutMs: ${timeoutMs}\n  refreshCooldownSeconds: 30`
  await writeFile(join(dir, 'gateway.yaml'), gw.replace('jwks:\n  cacheSeconds: 300', jwks))
  await writeFile(join(dir, 'agencies', 'VN.JWKS.TEST.yaml'), [
    'id: VN.JWKS.TEST', 'name: An agency publishing its keys', 'roles: [consumer]', `jwksUrl: ${url}`,
    'grants:', '  business-registry.enterprise: { fields: [name], purposes: "*" }',
  ].join('\n'))
  const sims = await sharedSimulators(t)
  return (await buildTestGateway(t, { config: await loadConfig(dir, sims.env) })).app
}

/** An anonymous caller: a token naming the agency and a kid nobody published, signed with a fresh key. */
async function madeUpKid (app: FastifyInstance, kid: string): Promise<{ code: string, ms: number }> {
  const key = await generateAgencyKey(kid)
  const signer = await signerFromJwk('VN.JWKS.TEST', key.privateJwk)
  const token = await signRequest(signer, { method: 'GET', target: TARGET })
  const started = Date.now()
  const res = await app.inject({ method: 'GET', url: TARGET, headers: { authorization: `Bearer ${token}` } })
  return { code: (JSON.parse(res.body) as { code: string }).code, ms: Date.now() - started }
}

t.test('an endless JWKS document is cut off at 256 KiB while it is read', async (t) => {
  const served = await jwksServer(t, (_req, res, s) => endless(res, s))
  const app = await gatewayWithJwks(t, `http://127.0.0.1:${served.port}/jwks.json`, 5000)
  global.gc?.()
  const before = process.memoryUsage().rss
  const refused = await madeUpKid(app, 'made-up-1')
  const grown = process.memoryUsage().rss - before
  t.equal(refused.code, 'auth.unknown_key')
  t.ok(refused.ms < 2500, `answered in ${refused.ms} ms, long before the 5 s deadline`)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(served.closedAfterMs.length, 1, 'the gateway closed the connection')
  // Socket buffers on both sides hold a few MiB at most; reading the whole body would be unbounded.
  t.ok(served.written < 16 * 1024 * 1024, `the server could write only ${(served.written / 1048576).toFixed(1)} MiB`)
  t.ok(grown < 64 * 1024 * 1024, `memory grew ${(grown / 1048576).toFixed(1)} MiB`)
})

t.test('a declared Content-Length past the limit is refused before the body is read', async (t) => {
  const served = await jwksServer(t, (_req, res, s) => endless(res, s, { 'content-length': String(400 * 1024 * 1024) }))
  const errors: string[] = []
  const onError = (e: unknown): void => { errors.push((e as Error).message) }
  const opts = { cacheSeconds: 60, refreshCooldownSeconds: 1, timeoutMs: 2000, onError }
  const cache = new JwksCache(`http://127.0.0.1:${served.port}/`, opts)
  t.equal(await cache.get('any'), undefined)
  t.match(errors, [/larger than 256 KiB \(declared\)/])
})

t.test('a JWKS document dripped slowly is cut off at the deadline', async (t) => {
  const served = await jwksServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    const timer = setInterval(() => res.write(' '), 50)
    res.on('close', () => clearInterval(timer))
  })
  const app = await gatewayWithJwks(t, `http://127.0.0.1:${served.port}/jwks.json`, 500)
  const refused = await madeUpKid(app, 'made-up-2')
  t.equal(refused.code, 'auth.unknown_key')
  t.ok(refused.ms < 1500, `answered in ${refused.ms} ms (deadline 500 ms)`)
})

t.test('plain http to a non-loopback address is never fetched', async (t) => {
  t.equal(jwksUrlProblem('https://agency.example/jwks.json'), null)
  t.equal(jwksUrlProblem('http://127.0.0.1:8080/jwks.json'), null)
  t.equal(jwksUrlProblem('http://localhost/jwks.json'), null)
  t.equal(jwksUrlProblem('http://[::1]:9/jwks.json'), null)
  t.match(jwksUrlProblem('http://192.0.2.10/jwks.json'), /https/)
  t.match(jwksUrlProblem('http://127.0.0.1.evil.example/jwks.json'), /https/)
  t.match(jwksUrlProblem('ftp://127.0.0.1/jwks.json'), /https/)
  t.match(jwksUrlProblem('not a url'), /not a URL/)
  const errors: string[] = []
  // 192.0.2.0/24 is TEST-NET: a connection attempt would hang until the deadline.
  const onError = (e: unknown): void => { errors.push((e as Error).message) }
  const opts = { cacheSeconds: 60, refreshCooldownSeconds: 1, timeoutMs: 3000, onError }
  const cache = new JwksCache('http://192.0.2.10/jwks.json', opts)
  const started = Date.now()
  t.equal(await cache.get('k'), undefined)
  t.ok(Date.now() - started < 200, 'refused without connecting')
  t.match(errors, [/must use https/])
  const app = await gatewayWithJwks(t, 'http://192.0.2.10/jwks.json')
  t.equal((await madeUpKid(app, 'made-up-3')).code, 'auth.unknown_key')
})

t.test('tokens with made-up kids cannot make the gateway refetch an agency\'s JWKS', async (t) => {
  const served = await jwksServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end('{"keys":[]}')
  })
  const app = await gatewayWithJwks(t, `http://127.0.0.1:${served.port}/jwks.json`)
  const codes = await Promise.all(Array.from({ length: 40 }, (_v, i) => madeUpKid(app, `made-up-${100 + i}`)))
  t.ok(codes.every((c) => c.code === 'auth.unknown_key'))
  t.equal(served.requests, 1, '40 unknown kids, one fetch within the cooldown')
  t.equal(MAX_JWKS_BYTES, 256 * 1024)
})
