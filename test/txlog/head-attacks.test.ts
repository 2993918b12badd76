/**
 * Requests that reach /v1 but never become whole (issue 67): heads split over several TCP segments and cut
 * off by the parser or a timeout, methods and targets Node's parser refuses, a missing Host, CONNECT, a
 * chunked body that breaks after dispatch, a pipelined follow-up that breaks, a body that never comes.
 * Over raw sockets to a real listening gateway, each gets one reply and exactly one record, and the record
 * says what the client received.
 */
import t, { type Test } from 'tap'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { GatewayConfig } from '../../core/config-types.js'
import { composeGateway } from '../../gateway/compose.js'
import { standaloneServices } from '../../gateway/services.js'
import { MemorySink } from '../../gateway/txlog/sink.js'
import type { TransactionRecord } from '../../gateway/txlog/record.js'
import { signRequest } from '../../sdk/index.js'
import { demoConfig, demoSigner } from '../helpers/gateway.js'

const CITIZEN = '/v1/population/citizens/030075654294'

interface Heard { statuses: number[], ids: string[], text: string }

/**
 * Writes each part in its own segment (`gapMs` apart, Nagle off), then keeps the connection open until the
 * server closes it or `waitMs` pass; returns every status line and transaction id heard.
 */
function talk (
  port: number, parts: Array<string | Buffer>, opts: { gapMs?: number, waitMs?: number } = {}
): Promise<Heard> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    const chunks: Buffer[] = []
    const done = (): void => {
      clearTimeout(timer)
      socket.destroy()
      const text = Buffer.concat(chunks).toString('latin1')
      resolve({
        statuses: [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])),
        ids: [...text.matchAll(/^x-transaction-id: *(\S+)\r$/gim)].map((m) => m[1] as string),
        text,
      })
    }
    const timer = setTimeout(done, opts.waitMs ?? 5000)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', () => {})
    socket.on('close', done)
    socket.on('connect', () => {
      void (async () => {
        for (const [i, part] of parts.entries()) {
          if (i > 0) await sleep(opts.gapMs ?? 60)
          if (socket.destroyed) return
          socket.write(part)
        }
      })()
    })
  })
}

async function gateway (
  t: Test, requestTimeoutMs = 30_000, sink = new MemorySink()
): Promise<{ port: number, sink: MemorySink }> {
  const base = await demoConfig(t)
  const limits = { ...base.gateway.limits, requestTimeoutMs }
  const config: GatewayConfig = { ...base, gateway: { ...base.gateway, limits } }
  const services = standaloneServices(config, { sink })
  const app = await composeGateway({ config, services })
  t.teardown(async () => { await app.close(); await services.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: (app.server.address() as { port: number }).port, sink }
}

/** The one reply heard carries one id, and that id has exactly one record, the only one added. */
function oneRecord (
  t: Test, heard: Heard, sink: MemorySink, before: number, name: string
): TransactionRecord | undefined {
  t.same(heard.statuses.length, 1, `${name}: one reply (${heard.statuses.join(', ')})`)
  t.equal(heard.ids.length, 1, `${name}: one transaction id`)
  const added = sink.records.slice(before)
  t.same(added.map((r) => r.id), heard.ids, `${name}: exactly one record, under the id the client got`)
  const record = added[0]
  if (record !== undefined) t.equal(record.status, heard.statuses[0], `${name}: the record has the status sent`)
  return record
}

const pad = (n: number): string => `x-pad: ${'p'.repeat(n)}\r\n`

t.test('heads split over segments and refused by the parser are recorded once', async (t) => {
  const { port, sink } = await gateway(t)
  const tooLarge = { status: 413, code: 'request.too_large' }
  const invalid = { status: 400, code: 'request.invalid' }
  const cases: Array<[string, Array<string | Buffer>, { status: number, code: string }]> = [
    ['the request line alone, then a 40 KB header', [`GET ${CITIZEN} HTTP/1.1\r\n`, `host: gw\r\n${pad(40_000)}\r\n`],
      tooLarge],
    ['a 70 KB request line', [`GET ${CITIZEN}?q=${'a'.repeat(70_000)} HTTP/1.1\r\nhost: gw\r\n\r\n`], tooLarge],
    ['a 70 KB request line, absolute-form, in pieces', ['GET http://gw/v1/audit/co', `unts?q=${'a'.repeat(70_000)}`],
      tooLarge],
    ['a percent-encoded prefix, then a 40 KB header',
      ['GET /%76%31/audit/counts HTTP/1.1\r\nhost: gw\r\n', pad(40_000)], tooLarge],
    ['a lowercase method', [`get ${CITIZEN} HTTP/1.1\r\nhost: gw\r\n\r\n`], invalid],
    ['a tab in the target', [`GET ${CITIZEN}\tx HTTP/1.1\r\nhost: gw\r\n\r\n`], invalid],
  ]
  for (const [name, parts, refusal] of cases) {
    const before = sink.records.length
    const heard = await talk(port, parts)
    const r = oneRecord(t, heard, sink, before, name)
    t.match(r, { ...refusal, route: null, client: null }, `${name}: what is known`)
  }
  t.equal(sink.records.at(-2)?.method, 'get', 'the method is recorded as sent')
  t.notOk(sink.records.some((r) => JSON.stringify(r).includes('030075654294')), 'no raw path in any record')

  const before = sink.records.length
  const notV1 = await talk(port, ['GET /health/live HTTP/1.1\r\n', pad(40_000)])
  t.same(notV1.statuses, [413], 'outside /v1: refused')
  t.same(notV1.ids, [], 'outside /v1: no transaction')
  const cut = await talk(port, ['GET /v1', pad(40_000)])
  t.same([cut.statuses, cut.ids], [[400], []], 'a target cut off at "/v1" may be /v1x: not taken for /v1')
  t.equal(sink.records.length, before, 'neither recorded')
})

t.test('on a kept-alive connection, a split oversize head after a served request is its own transaction', async (t) => {
  const { port, sink } = await gateway(t)
  const before = sink.records.length
  const heard = await talk(port, [
    'GET /v1/audit/counts HTTP/1.1\r\nhost: gw\r\n\r\n',
    `GET ${CITIZEN} HTTP/1.1\r\n`,
    `host: gw\r\n${pad(40_000)}\r\n`,
  ], { gapMs: 300 })
  t.same(heard.statuses, [401, 413], 'the first served, the second refused as too large')
  t.equal(heard.ids.length, 2, 'each reply carries its own transaction id')
  t.same(sink.records.slice(before).map((r) => [r.id, r.status]), heard.ids.map((id, i) => [id, heard.statuses[i]]),
    'one record each, each with the status its client got')
})

t.test('a head that stops arriving is cut off by the timeout, answered and recorded once', async (t) => {
  const { port, sink } = await gateway(t, 400)
  const before = sink.records.length
  const heard = await talk(port, [`GET ${CITIZEN} HTTP/1.1\r\n`, 'host: gw\r\n'], { waitMs: 5000 })
  const r = oneRecord(t, heard, sink, before, 'slow head')
  t.match(r, { status: 400, code: 'request.invalid', method: 'GET', route: null })
  t.match(heard.text, /not received in time/)
})

t.test('an HTTP/1.1 request without Host is refused by the gateway and recorded', async (t) => {
  const { port, sink } = await gateway(t)
  const before = sink.records.length
  const heard = await talk(port, ['GET /v1/audit/counts HTTP/1.1\r\nconnection: close\r\n\r\n'])
  t.match(oneRecord(t, heard, sink, before, 'no Host'), { status: 400, code: 'request.invalid' })
  t.match(heard.text, /application\/problem\+json/)
  const other = await talk(port, ['GET /health/live HTTP/1.1\r\nconnection: close\r\n\r\n'])
  t.same([other.statuses, other.ids], [[400], []], 'outside /v1: refused, no transaction')
})

t.test('CONNECT to a /v1 target is answered 405 and recorded, elsewhere answered unrecorded', async (t) => {
  const { port, sink } = await gateway(t)
  const before = sink.records.length
  const heard = await talk(port, [`CONNECT ${CITIZEN} HTTP/1.1\r\nhost: gw\r\n\r\n`])
  t.match(oneRecord(t, heard, sink, before, 'CONNECT'),
    { status: 405, code: 'route.method', method: 'CONNECT', route: null })
  const other = await talk(port, ['CONNECT gw.example:443 HTTP/1.1\r\nhost: gw.example:443\r\n\r\n'])
  t.same([other.statuses, other.ids], [[405], []])
  t.equal(sink.records.length, before + 1)
})

t.test('a chunked body with a bad chunk size makes one record, not two', async (t) => {
  const { port, sink } = await gateway(t)
  const before = sink.records.length
  const heard = await talk(port, ['POST /v1/notifications HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n' +
    'transfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'])
  t.match(oneRecord(t, heard, sink, before, 'bad chunk size'), { status: 400, code: 'request.invalid', method: 'POST' })
  await sleep(200)
  t.equal(sink.records.length, before + 1, 'the aborted request adds no record later')
})

t.test('a pipelined malformed request: the client gets one 400, and the records say so', async (t) => {
  const { port, sink } = await gateway(t)
  const before = sink.records.length
  const heard = await talk(port,
    ['GET /v1/audit/counts HTTP/1.1\r\nhost: gw\r\n\r\nGET /v1/audit/counts HTTP/9.9.9\r\n\r\n'])
  t.match(oneRecord(t, heard, sink, before, 'pipelined'), { status: 400, code: 'request.invalid', method: 'GET' })
  await sleep(200)
  t.equal(sink.records.length, before + 1, 'the first request, never answered, adds no record of its own')
})

t.test('a false Content-Length cannot hold a socket and its record forever', async (t) => {
  const { port, sink } = await gateway(t, 400)
  const signer = await demoSigner('VN.LOC.DNG')
  const body = '{"subject":"0300'
  const post = await signRequest(signer,
    { method: 'POST', target: '/v1/notifications', purpose: 'public-service', body })
  let before = sink.records.length
  let started = Date.now()
  const heard = await talk(port, ['POST /v1/notifications HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n' +
    `authorization: Bearer ${post}\r\ncontent-length: 100\r\n\r\n${body}`], { waitMs: 5000 })
  t.ok(Date.now() - started < 4000, 'answered within the request timeout and one check')
  t.match(oneRecord(t, heard, sink, before, 'a POST body that never comes'),
    { status: 400, code: 'request.invalid', method: 'POST' })
  t.match(heard.text, /body was not received in time/)
  await sleep(200)
  t.equal(sink.records.length, before + 1, 'no second record when the request is torn down')

  // A GET is served without waiting for a body; the body still owed then only costs the connection.
  const get = await signRequest(signer, { method: 'GET', target: CITIZEN, purpose: 'public-service' })
  before = sink.records.length
  started = Date.now()
  const served = await talk(port, [`GET ${CITIZEN} HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer ${get}\r\n` +
    'content-length: 100\r\n\r\n'], { waitMs: 5000 })
  t.ok(Date.now() - started < 4000, 'the connection is closed by the timeout, not held')
  oneRecord(t, served, sink, before, 'a GET with a false Content-Length')
})

t.test('a refused head whose record cannot be kept is answered 503, never 400 unrecorded', async (t) => {
  class RefusingSink extends MemorySink {
    override async append (): Promise<void> { throw new Error('log down') }
  }
  const { port, sink } = await gateway(t, 400, new RefusingSink())
  for (const [name, parts] of [
    ['a split oversize head', [`GET ${CITIZEN} HTTP/1.1\r\n`, pad(40_000)]],
    ['a broken chunked body',
      ['POST /v1/notifications HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n']],
    ['CONNECT', [`CONNECT ${CITIZEN} HTTP/1.1\r\nhost: gw\r\n\r\n`]],
  ] as Array<[string, string[]]>) {
    const heard = await talk(port, parts)
    t.same(heard.statuses, [503], `${name}: 503`)
    t.equal(heard.ids.length, 1, `${name}: with its transaction id`)
    t.match(heard.text, /gateway\.unavailable/)
  }
  t.equal(sink.records.length, 0)
})
