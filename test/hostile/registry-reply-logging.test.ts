/**
 * A registry's reply never reaches the gateway's log (issue 10, item 6): a malformed JSON reply holding a
 * phone number, and bytes that are not HTTP, are logged as status, size and SHA-256, never quoted.
 */
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { loggerOptions } from '../../gateway/process/logger.js'
import { composeGateway } from '../../gateway/compose.js'
import { standaloneServices } from '../../gateway/services.js'
import { demoConfig, json, signedInject } from '../helpers/gateway.js'

const ID = '030075654294'
const MALFORMED = `{"soDinhDanh":"${ID}","soDienThoai":"0912345678","x":NaN,"hoVaTen":"Dương Đức Việt"}`

interface Logged { app: Awaited<ReturnType<typeof composeGateway>>, lines: string[] }

async function gatewayAgainst (t: Test, populationUrl: string): Promise<Logged> {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk, _enc, cb) { lines.push(...String(chunk).split('\n').filter(Boolean)); cb() },
  })
  const config = await demoConfig(t, { POPULATION_URL: populationUrl })
  const services = standaloneServices(config)
  const app = await composeGateway({ config, services, logger: pino(loggerOptions('debug') as object, stream) })
  t.teardown(async () => { await app.close(); await services.close() })
  await app.ready()
  return { app, lines }
}

const lookUp = (app: Logged['app']) =>
  signedInject(app, 'VN.LOC.DNG', 'GET', `/v1/population/citizens/${ID}?fields=fullName`, { purpose: 'public-service' })

t.test('a registry answering malformed JSON with a phone number: 502, and the log holds no byte of it', async (t) => {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(MALFORMED)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const { app, lines } = await gatewayAgainst(t, `http://127.0.0.1:${(server.address() as { port: number }).port}`)
  const res = await lookUp(app)
  t.equal(res.statusCode, 502)
  t.equal(json(res).code, 'upstream.bad_response')
  const all = lines.join('\n')
  for (const leak of ['5678', 'NaN', 'hoVaT', 'Dương', ID]) t.notOk(all.includes(leak), `no "${leak}" in the log`)
  const failed = lines.map((l) => JSON.parse(l) as { msg?: string, err?: Record<string, unknown> })
    .find((l) => l.msg === 'request failed')
  t.match(failed?.err, {
    message: 'registry reply is malformed JSON',
    status: 200,
    bytes: Buffer.byteLength(MALFORMED),
    sha256: createHash('sha256').update(MALFORMED).digest('hex'),
  }, 'status, size and hash are logged instead')
})

t.test('a registry answering bytes that are not HTTP: the parser\'s copy of them is not logged', async (t) => {
  const server = createTcpServer((socket) => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Phone: 0912345678\u0001\r\n\r\n'
    socket.once('data', () => socket.end(`${head}${MALFORMED}`))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const { app, lines } = await gatewayAgainst(t, `http://127.0.0.1:${(server.address() as { port: number }).port}`)
  const res = await lookUp(app)
  t.ok(res.statusCode === 502, `502 (got ${res.statusCode})`)
  const all = lines.join('\n')
  for (const leak of ['5678', 'X-Phone', 'hoVaT']) t.notOk(all.includes(leak), `no "${leak}" in the log`)
  t.match(all, /unreadable HTTP reply/)
})
