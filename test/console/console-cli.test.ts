/**
 * `ndx console` asks the gateway once before serving: a bad key file (2), a gateway refusing the key (1)
 * and an unreachable gateway (3) are said at once, in words; a good start serves the page until stopped.
 */
import t from 'tap'
import { createServer } from 'node:http'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { request } from 'undici'
import { main } from '../../cli/console.js'
import type { RunningConsole } from '../../console/server.js'
import { generateAgencyKey } from '../../sdk/index.js'
import { logGateway, tempDir } from '../helpers/txlog.js'

async function run (args: string[], whileRunning?: (c: RunningConsole) => Promise<void>) {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (c) => { out += String(c) })
  stderr.on('data', (c) => { err += String(c) })
  const code = await main(args, { stdout, stderr, env: {}, stopped: whileRunning ?? (async () => {}) })
  return { code, out, err }
}

t.test('a good start serves the page on 127.0.0.1 until stopped', async (t) => {
  const gw = await logGateway(t)
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  let page = ''
  const res = await run(['--url', url, '--iss', 'VN.TTCP', '--port', '0'], async (c) => {
    page = await (await request(`${c.url}/`)).body.text()
  })
  t.equal(res.code, 0)
  t.match(res.out, /^open http:\/\/127\.0\.0\.1:\d+\/\n$/)
  t.match(res.err, new RegExp(`ndx console: VN\\.TTCP at ${url}`))
  t.match(page, /<title>ndx audit console — VN\.TTCP<\/title>/)
})

t.test('bad input, a refusing gateway, an unreachable one: a message and 2, 1, 3', async (t) => {
  const gw = await logGateway(t)
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const dir = await tempDir(t)
  const notJson = join(dir, 'k.json')
  await writeFile(notJson, '{"kty":')
  const wrong = join(dir, 'wrong.json')
  await writeFile(wrong, JSON.stringify((await generateAgencyKey('ttcp-2026-01')).privateJwk))

  const badKey = await run(['--url', url, '--iss', 'VN.TTCP', '--key', notJson])
  t.equal(badKey.code, 2)
  t.match(badKey.err, /ndx console: the key file .*k\.json is not JSON/)
  t.equal((await run(['--url', url, '--iss', 'VN.TTCP', '--port', '99999'])).code, 2, 'bad port')
  t.equal((await run(['--url', url])).code, 2, 'no --iss')
  t.equal((await run(['--nope'])).code, 2)
  const help = await run(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /usage: ndx console/)

  const refused = await run(['--url', url, '--iss', 'VN.TTCP', '--key', wrong, '--port', '0'])
  t.equal(refused.code, 1)
  t.match(refused.err, /ndx console: the gateway refused the key of VN\.TTCP \(401 auth\.\w+/)

  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const port = String((taken.address() as { port: number }).port)
  const busy = await run(['--url', url, '--iss', 'VN.TTCP', '--port', port])
  t.equal(busy.code, 2)
  t.match(busy.err, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`))

  await gw.app.close()
  const down = await run(['--url', url, '--iss', 'VN.TTCP', '--port', '0'])
  t.equal(down.code, 3)
  t.match(down.err, new RegExp(`ndx console: cannot reach the gateway at ${url}: connection refused`))
  for (const r of [badKey, refused, busy, down]) t.notMatch(r.err, /\n\s+at /, 'no stack trace')
})
