/**
 * The console's local server signs with the auditor's key, so it must not become a signing oracle: only
 * loopback peers at its own Host, only its own page (session token), only GET /v1/audit/..., and the key
 * never leaves it. Each attack below is tried against a real gateway, whose log then shows what was signed.
 */
import t, { type Test } from 'tap'
import { request } from 'undici'
import { readFile } from 'node:fs/promises'
import { startConsole, isLoopback, PROXIED } from '../../console/server.js'
import { projectPath } from '../../core/paths.js'
import { demoSigner, json, signedInject } from '../helpers/gateway.js'
import { logGateway } from '../helpers/txlog.js'
import { record } from '../helpers/records.js'

async function setup (t: Test) {
  const gw = await logGateway(t)
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const con = await startConsole({ gateway: url, signer: await demoSigner('VN.TTCP'), port: 0 })
  t.teardown(() => con.close())
  const home = await request(`${con.url}/`)
  const html = await home.body.text()
  const session = /name="ndx-session" content="([^"]+)"/.exec(html)?.[1] ?? ''
  const get = async (path: string, headers: Record<string, string> = { 'x-ndx-console': session }, method = 'GET') => {
    const res = await request(con.url + path, { method: method as 'GET', headers })
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
  }
  /** What the gateway's log holds that the console signed (beside the test's own checks). */
  const signed = async () => {
    const counts = json(await signedInject(gw.app, 'VN.TTCP', 'GET', '/v1/audit/counts?groupBy=client,operation'))
    const groups = counts.groups as Array<Record<string, unknown>>
    return groups.filter((g) => g.client === 'VN.TTCP' && g.operation !== 'counts')
  }

  return { gw, con, html, session, get, signed, home }
}

t.test('the page and its session carry no key material', async (t) => {
  const { html, get, home } = await setup(t)
  const keyFile = projectPath('demo', 'keys', 'VN.TTCP.private.jwk.json')
  const key = JSON.parse(await readFile(keyFile, 'utf8')) as { d: string }
  t.equal(home.statusCode, 200)
  t.match(home.headers['content-security-policy'], /default-src 'self'/)
  t.notMatch(html, key.d)
  const session = await get('/api/session')
  const about = JSON.parse(session.body) as Record<string, unknown>
  t.same(Object.keys(about).sort(), ['agency', 'gateway', 'keyId'])
  t.equal(about.agency, 'VN.TTCP')
  t.notMatch(session.body, key.d)
  for (const path of ['/app/app.js', '/app/api.js', '/app/style.css', '/vendor/chart.umd.min.js']) {
    const res = await get(path, {})
    t.equal(res.status, 200, path)
    t.notMatch(res.body, key.d)
  }
  t.equal((await get('/app/../server.ts', {})).status, 404, 'no path out of the public folder')
  t.equal((await get('/app/%2e%2e/server.ts', {})).status, 404)
})

t.test('the console signs only GET /v1/audit/... : no other route, method or spelling', async (t) => {
  const { get, signed } = await setup(t)
  const ok = await get('/api/v1/audit/transactions?limit=1')
  t.equal(ok.status, 200)
  t.match(JSON.parse(ok.body), { items: Array })
  t.match(ok.headers['x-transaction-id'], /^[0-9a-f-]{36}$/)
  const refused: Array<[string, string]> = [
    ['GET', '/api/v1/admin/instances'],
    ['GET', '/api/v1/population/citizens/030075654294'],
    ['GET', '/api/v1/audit/../admin/instances'],
    ['GET', '/api/v1/audit/%2e%2e/admin/instances'],
    ['GET', '/api/v1/audit/transactions/x/../../../population/citizens/030075654294'],
    ['GET', '/api/v1/auditx'],
    ['GET', '/api//v1/audit/counts'],
    ['POST', '/api/v1/audit/counts'],
    ['POST', '/api/v1/admin/reload'],
    ['DELETE', '/api/v1/audit/transactions'],
  ]
  for (const [method, path] of refused) {
    const res = await get(path, undefined, method)
    t.ok(res.status === 404 || res.status === 405, `${method} ${path}: ${res.status}`)
    t.match(JSON.parse(res.body).code, /^console\./, 'refused by the console itself')
  }
  t.same((await signed()).map((g) => [g.operation, g.count]), [['transactions', 1]],
    'the gateway received nothing signed but the one audit read')
  t.ok(PROXIED.test('/api/v1/audit/transactions/0199b0a4-7c1e-7000-8000-000000000000?subject=a%20b'))
})

t.test('another origin cannot make the console sign (no session token, a foreign Host)', async (t) => {
  const { get, session, con, signed } = await setup(t)
  const port = new URL(con.url).port
  t.equal((await get('/api/v1/audit/counts', {})).status, 403, 'no token')
  const guessed = await get('/api/v1/audit/counts', { 'x-ndx-console': 'x'.repeat(session.length) })
  t.equal(guessed.status, 403, 'a guessed token')
  const rebound = await get('/api/v1/audit/counts', { 'x-ndx-console': session, host: `evil.example:${port}` })
  t.equal(rebound.status, 421, 'a DNS-rebound name is refused, token or not')
  t.equal((await get('/', { host: 'evil.example' })).status, 421, 'the page (and its token) too')
  const local = await get('/api/session', { 'x-ndx-console': session, host: `localhost:${port}` })
  t.equal(local.status, 200, 'localhost is its own name')
  t.same(await signed(), [], 'nothing was signed')
})

t.test('the console listens on 127.0.0.1 only and refuses other peers', async (t) => {
  const { con } = await setup(t)
  t.equal((con.server.address() as { address: string }).address, '127.0.0.1')
  t.ok(isLoopback('127.0.0.1'))
  t.ok(isLoopback('::ffff:127.0.0.1'))
  t.notOk(isLoopback('10.0.0.7'))
  t.notOk(isLoopback('::ffff:192.168.1.2'))
  t.notOk(isLoopback(undefined))
})

t.test('an export streams through the console as the gateway sends it', async (t) => {
  const { get, gw } = await setup(t)
  await signedInject(gw.app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
  const res = await get('/api/v1/audit/export?format=csv&client=VN.LOC.DNG')
  t.equal(res.status, 200)
  t.match(res.headers['content-type'], /^text\/csv/)
  t.match(res.headers['content-disposition'], /^attachment; filename="ndx-audit-/)
  t.equal(res.body.trimEnd().split('\r\n').length, 2, 'header and the one record')
})

t.test('a reader that leaves an export through the console stops the gateway reading the log', async (t) => {
  const { gw, session, con } = await setup(t)
  const from = '2026-01-10T10:00:00.000Z'
  await gw.log.writer.write([record({ at: new Date(from) })])
  await gw.log.sql.query(`
    INSERT INTO ndx_tx (seq, id, time, client, method, outcome, status, duration_ms, request_bytes, response_bytes,
      prev_hash, hash)
    SELECT i + 1, gen_random_uuid(), $1::timestamptz + i * interval '1 millisecond', 'VN.LOC.DNG', 'GET', 'ok', 200,
      1.5, 0, 321, md5(i::text) || md5(i::text), md5((i + 1)::text) || md5((i + 1)::text)
    FROM generate_series(1, 30000) AS i`, [from])
  let pages = 0
  const list = gw.log.reader.list.bind(gw.log.reader)
  gw.log.reader.list = async (...args) => { pages++; return list(...args) }
  const res = await request(`${con.url}/api/v1/audit/export?from=${from}&to=2026-01-10T11:00:00.000Z`, {
    headers: { 'x-ndx-console': session },
  })
  t.equal(res.statusCode, 200)
  await res.body[Symbol.asyncIterator]().next()
  res.body.destroy()
  await new Promise((resolve) => setTimeout(resolve, 500))
  const after = pages
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.equal(pages, after, 'no page read after the reader left')
  t.ok(after < 25, `stopped at ${after} of 31 pages`)
})
