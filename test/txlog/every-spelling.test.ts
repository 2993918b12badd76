/**
 * Requests that reached /v1 unrecorded (issue 9, finding 2): absolute-form targets, percent-encoded
 * prefixes, a head too large for Node's parser. Over raw sockets to a real listening gateway, each is
 * answered cleanly (no 5xx, a transaction id) and recorded exactly once, and no stack reaches the log.
 */
import t from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { loggerOptions } from '../../gateway/process/logger.js'
import { composeGateway } from '../../gateway/compose.js'
import { standaloneServices } from '../../gateway/services.js'
import { MemorySink } from '../../gateway/txlog/sink.js'
import { demoConfig } from '../helpers/gateway.js'
import { rawExchange } from '../helpers/raw-http.js'
import { logGateway, waitLogged } from '../helpers/txlog.js'

const head = (target: string, more = ''): string =>
  `GET ${target} HTTP/1.1\r\nhost: gw\r\n${more}connection: close\r\n\r\n`
const CITIZEN = '/v1/population/citizens/030075654294'

/** Each spelling, and the status it must get: the refusal a request in the /v1 space gets, not any 4xx. */
const CASES: Array<[string, string, number]> = [
  ['absolute-form target', head(`http://gw.example${CITIZEN}`), 401],
  ['absolute-form, https', head('https://gw.example/v1/audit/counts'), 401],
  ['percent-encoded prefix', head('/%76%31/population/citizens/030075654294'), 401],
  ['percent-encoded v only', head('/%761/audit/counts'), 401],
  ['malformed percent-encoding', head('/v1/population/citizens/%zz'), 400],
  ['a space in the target', head('/v1/population/citizens/1?fields=full name'), 400],
  ['a 20 KB Authorization header', head(CITIZEN, `authorization: Bearer ${'a'.repeat(20_000)}\r\n`), 413],
  ['a head over the limit, absolute-form', head('http://gw/v1/audit/counts', `x-pad: ${'b'.repeat(20_000)}\r\n`), 413],
]

t.test('every spelling of a /v1 request is answered cleanly and recorded once, in the real log', async (t) => {
  const gw = await logGateway(t)
  await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (gw.app.server.address() as { port: number }).port
  for (const [name, bytes, status] of CASES) {
    const res = await rawExchange(port, bytes)
    t.equal(res.status, status, `${name}: ${res.status}`)
    const id = res.headers['x-transaction-id']
    t.type(id, 'string', `${name}: a transaction id`)
    t.equal(
      (JSON.parse(res.body) as { transactionId: string }).transactionId,
      id,
      `${name}: the same id in the problem`
    )
    t.equal(await waitLogged(gw.log.sql, [id as string], 2000), 1, `${name}: recorded`)
  }
  const [row] = await gw.log.sql.query<{ method: string, status: number, code: string, route: string | null }>(
    "SELECT method, status, code, route FROM ndx_tx WHERE code = 'request.invalid' ORDER BY seq LIMIT 1")
  t.same(row, { method: 'GET', status: 400, code: 'request.invalid', route: null }, 'what the parser left is recorded')
})

t.test('no 500 and no stack in the log for any of them', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const sink = new MemorySink()
  const config = await demoConfig(t)
  const services = standaloneServices(config, { sink })
  const app = await composeGateway({ config, services, logger: pino(loggerOptions('debug') as object, stream) })
  t.teardown(async () => { await app.close(); await services.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const ids = []
  for (const [, bytes] of CASES) ids.push((await rawExchange(port, bytes)).headers['x-transaction-id'])
  t.same(sink.records.map((r) => r.id), ids, 'one record each, in order')
  t.ok(sink.records.every((r) => r.status < 500))
  t.notMatch(lines.join(''), /"stack"|at [A-Za-z.]+ \(/, 'no stack trace logged')
  const notV1 = await rawExchange(port, `GET /health/live HTTP/1.1\r\nhost: gw\r\nx-pad: ${'c'.repeat(20_000)}\r\n\r\n`)
  t.equal(notV1.status, 413)
  t.equal(notV1.headers['x-transaction-id'], undefined, 'outside /v1: no transaction')
  t.equal(sink.records.length, CASES.length)
})
