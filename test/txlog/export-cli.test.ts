/**
 * `ndx audit export` against a real gateway: a file with a progress bar or progress lines, stdout, and the
 * three ways it can fail, each a clear message and its exit code (usage 2, refusal 1, transport 3).
 */
import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { main } from '../../cli/audit-export.js'
import { runCli } from '../../cli/ndx.js'
import { generateAgencyKey } from '../../sdk/index.js'
import { signedInject } from '../helpers/gateway.js'
import { logGateway, tempDir } from '../helpers/txlog.js'

async function run (args: string[], tty = false, now?: () => number) {
  const stdout = new PassThrough()
  const stderr = Object.assign(new PassThrough(), { isTTY: tty })
  let out = ''
  let err = ''
  stdout.on('data', (c) => { out += String(c) })
  stderr.on('data', (c) => { err += String(c) })
  const code = await main(args, { stdout, stderr, env: {}, ...(now === undefined ? {} : { now }) })
  return { code, out, err }
}

async function gatewayWithTraffic (t: Test) {
  const gw = await logGateway(t)
  for (let i = 0; i < 3; i++) {
    await signedInject(gw.app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
  }
  await signedInject(gw.app, 'VN.BHXH', 'GET', '/v1/population/citizens/030075654294', { purpose: 'social-insurance' })
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  return { ...gw, url }
}

t.test('exports to a file: progress lines off a terminal, a bar on one, no .part left', async (t) => {
  const { url } = await gatewayWithTraffic(t)
  const dir = await tempDir(t)
  const file = join(dir, 'audit.csv')
  let clock = 0
  // Every reading 2.5 s later: a progress line is due at the first update, however the reply is chunked.
  const slow = (): number => (clock += 2500)
  const res = await run(['--url', url, '--iss', 'VN.TTCP', '--client', 'VN.LOC.DNG', '--out', file], false, slow)
  t.equal(res.code, 0, res.err)
  const rows = (await readFile(file, 'utf8')).trimEnd().split('\r\n')
  t.equal(rows.length, 4, 'csv chosen from the file name: a header and 3 records')
  t.match(rows[0], /^id,seq,time,client,/)
  t.notOk(existsSync(`${file}.part`))
  t.match(res.err, /DEMO key/)
  t.match(res.err, /export: 3 records from http:\/\/127\.0\.0\.1:\d+, \S+ to \S+ \(csv\)/)
  t.match(res.err, /export: \d\/3 records \(\d+%\), \d+ records\/s\n/, 'a plain progress line')
  t.match(res.err, new RegExp(`export: 3 records in [\\d.]+ s \\([\\d,]+ records/s\\) → ${file}`))

  const tty = await run(['--url', url, '--iss', 'VN.TTCP', '--format', 'ndjson', '--out', join(dir, 'a.ndjson')], true)
  t.equal(tty.code, 0)
  // eslint-disable-next-line no-control-regex -- the bar ends with the terminal's erase-line sequence
  t.match(tty.err, /\r\[#{24}\] 100% (\d+)\/\1 records {2}[\d,]+ records\/s\x1b\[K/, 'a redrawn bar on a terminal')
})

t.test('exports NDJSON to stdout, with the listing\'s filters', async (t) => {
  const { url } = await gatewayWithTraffic(t)
  const res = await run(['--url', url, '--iss', 'VN.TTCP', '--subject', '030075654294', '--outcome', 'ok'])
  t.equal(res.code, 0)
  const records = res.out.trimEnd().split('\n').map((l) => JSON.parse(l) as { client: string })
  t.same(records.map((r) => r.client), ['VN.BHXH'])
})

t.test('bad input: a clear message and exit 2, before anything is sent', async (t) => {
  const dir = await tempDir(t)
  const notJson = join(dir, 'k.json')
  await writeFile(notJson, 'not json')
  const pub = join(dir, 'pub.json')
  const { privateJwk, publicJwk } = await generateAgencyKey('x-1')
  await writeFile(pub, JSON.stringify(publicJwk))
  const noKid = join(dir, 'nokid.json')
  await writeFile(noKid, JSON.stringify({ ...privateJwk, kid: undefined }))
  const url = 'http://127.0.0.1:9'
  const cases: Array<[string[], RegExp]> = [
    [['--url', url], /--iss must name the agency/],
    [['--url', url, '--iss', 'VN.TTCP', '--format', 'xlsx'], /--format must be ndjson or csv/],
    [['--url', url, '--iss', 'VN.TTCP', '--from', 'yesterday'], /--from must be an ISO time/],
    [['--url', url, '--iss', 'VN.TTCP', '--from', '2026-02-01T00:00:00Z', '--to', '2026-01-01T00:00:00Z'],
      /--from must be before --to/],
    [['--url', 'ftp://x', '--iss', 'VN.TTCP'], /--url must be http or https/],
    [['--url', url, '--iss', 'VN.TTCP', '--key', join(dir, 'missing.json')],
      /cannot read the key file .*missing\.json: no such file/],
    [['--url', url, '--iss', 'VN.TTCP', '--key', notJson], /the key file .*k\.json is not JSON/],
    [['--url', url, '--iss', 'VN.TTCP', '--key', pub], /holds a public key: --key needs the agency's private key/],
    [['--url', url, '--iss', 'VN.TTCP', '--key', noKid], /has no "kid" or "alg"/],
    [['--url', url, '--iss', 'VN.NOBODY'], /--key is required \(no demo key for VN\.NOBODY\)/],
    [['--bogus'], /Unknown option '--bogus'/],
  ]
  for (const [args, message] of cases) {
    const res = await run(args)
    t.equal(res.code, 2, args.join(' '))
    t.match(res.err, message)
    t.notMatch(res.err, /\n\s+at /, 'no stack trace')
  }
  const help = await run(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /usage: ndx audit export/)
})

t.test('a gateway refusing the key or the query: its reason and exit 1', async (t) => {
  const { url } = await gatewayWithTraffic(t)
  const dir = await tempDir(t)
  const wrong = join(dir, 'wrong.json')
  await writeFile(wrong, JSON.stringify((await generateAgencyKey('ttcp-2026-01')).privateJwk))
  const res = await run(['--url', url, '--iss', 'VN.TTCP', '--key', wrong, '--out', join(dir, 'x.csv')])
  t.equal(res.code, 1)
  t.match(res.err, new RegExp('the gateway refused the key of VN\\.TTCP \\(401 auth\\.\\w+: [^)]+\\): ' +
    'check that --iss names your agency and --key is its registered private key'))
  t.notOk(existsSync(join(dir, 'x.csv')), 'no file')
  const other = await run(['--url', url, '--iss', 'VN.LOC.DNG', '--client', 'VN.BHXH'])
  t.equal(other.code, 1)
  t.match(other.err, /the gateway refused \(403 access\.denied: Only auditors may read other agencies' records\)/)
})

t.test('an unreachable gateway, or a transfer cut short: exit 3 and no file that looks complete', async (t) => {
  const dir = await tempDir(t)
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as { port: number }).port
  await new Promise((resolve) => closed.close(resolve))
  const down = await run(['--url', `http://127.0.0.1:${port}`, '--iss', 'VN.TTCP', '--out', join(dir, 'a.csv')])
  t.equal(down.code, 3)
  t.match(down.err, new RegExp(`cannot reach the gateway at http://127\\.0\\.0\\.1:${port}: connection refused`))

  // A peer that answers the count, then cuts the export after a few rows (as a dying gateway or proxy would).
  const cutter = createServer((req, res) => {
    if (req.url?.startsWith('/v1/audit/counts') === true) { res.end('{"total":1000,"groups":[]}'); return }
    res.writeHead(200, { 'content-type': 'text/csv' })
    res.write('id,seq\r\n1,1\r\n2,2\r\n')
    setTimeout(() => res.socket?.destroy(), 50)
  })
  await new Promise<void>((resolve) => cutter.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { cutter.close() })
  const out = join(dir, 'cut.csv')
  const cutUrl = `http://127.0.0.1:${(cutter.address() as { port: number }).port}`
  const cut = await run(['--url', cutUrl, '--iss', 'VN.TTCP', '--out', out])
  t.equal(cut.code, 3)
  t.match(cut.err, /cannot reach the gateway at .*: the connection was closed before the reply was complete/)
  t.notOk(existsSync(out), 'no output file')
  t.notOk(existsSync(`${out}.part`), 'no partial file left behind')
})

t.test('ndx dispatches audit export and console', async (t) => {
  const io = { out: () => {}, err: () => {}, env: {} }
  t.equal(await runCli(['audit', 'export', '--help'], io), 0)
  t.equal(await runCli(['audit', 'import'], io), 2)
  t.equal(await runCli(['console', '--help'], io), 0)
})
