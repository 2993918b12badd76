/**
 * `ndx batch`: submit a file, wait with a progress bar, write results; resume after an interruption
 * without submitting again; exit codes 2 (usage), 1 (refused), 3 (gateway unreachable).
 */
import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { main, parseItems, type BatchIo } from '../../cli/batch.js'
import { runCli } from '../../cli/ndx.js'
import { tempDir } from '../helpers/txlog.js'
import { batchGateway, verifyItems } from './helpers.js'

function capture (url: string, tty = false): BatchIo & { stdout: string, stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out (s: string) { io.stdout += s },
    err (s: string) { io.stderr += s },
    tty,
    env: { NDX_URL: url },
    pollMs: 100,
  }
  return io
}

const ARGS = [
  '--iss', 'VN.VIETTEL', '--service', 'population', '--operation', 'verify', '--purpose', 'subscriber-verification',
]

t.test('submit --wait writes one result per line of the file, a malformed line as its problem', async (t) => {
  const gw = await batchGateway(t)
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const dir = await tempDir(t)
  const items = await verifyItems(5, 900)
  const file = join(dir, 'items.ndjson')
  const lines = items.map((i) => JSON.stringify(i))
  lines.splice(2, 0, '{ not json')
  await writeFile(file, lines.join('\n') + '\n\n')
  const out = join(dir, 'results.ndjson')
  const io = capture(url, true)
  t.equal(await main(['submit', file, ...ARGS, '--wait', '--out', out], io), 0)
  const results = (await readFile(out, 'utf8')).trim().split('\n')
    .map((l) => JSON.parse(l) as { index: number, status: number, problem?: { code: string } })
  t.same(results.map((r) => r.index), [0, 1, 2, 3, 4, 5])
  t.match(results[2], { status: 400, problem: { code: 'request.invalid' } })
  t.equal(results.filter((r) => r.status === 200).length, 5)
  t.match(
    io.stderr,
    /\r\[#+\] 6\/6 {2}done 5 {2}failed 1 {2}[0-9.]+\/s {2}ETA \S+ {2}done/,
    'a progress bar with done, failed, rate and ETA'
  )
  t.notOk(existsSync(`${out}.batch.json`), 'the state file is gone once results are written')
})

t.test('interrupted after submitting, the same command resumes the same batch', async (t) => {
  const gw = await batchGateway(t)
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const dir = await tempDir(t)
  const file = join(dir, 'items.ndjson')
  await writeFile(file, (await verifyItems(3, 950)).map((i) => JSON.stringify(i)).join('\n'))
  const out = join(dir, 'out.ndjson')
  const first = capture(url)
  t.equal(await main(['submit', file, ...ARGS, '--out', out], first), 0, 'submitted, not waited (as if interrupted)')
  const { batchId } = JSON.parse(first.stdout) as { batchId: string }
  t.ok(existsSync(`${out}.batch.json`))
  const again = capture(url)
  t.equal(await main(['submit', file, ...ARGS, '--wait', '--out', out], again), 0)
  t.match(again.stderr, `resuming batch ${batchId}`)
  t.equal(gw.sink.records.filter((r) => r.operation === 'submit').length, 1, 'one batch submitted, not two')
  t.equal((await readFile(out, 'utf8')).trim().split('\n').length, 3)

  const status = capture(url)
  t.equal(await main(['status', batchId, '--iss', 'VN.VIETTEL'], status), 0)
  t.match(JSON.parse(status.stdout), { batchId, state: 'done', total: 3 })
  const res = capture(url)
  t.equal(await main(['results', batchId, '--iss', 'VN.VIETTEL'], res), 0)
  t.equal(res.stdout.trim().split('\n').length, 3)
  const cancel = capture(url)
  t.equal(await main(['cancel', batchId, '--iss', 'VN.VIETTEL'], cancel), 0)
  t.match(JSON.parse(cancel.stdout), { state: 'done' }, 'a finished batch stays done')
})

t.test('exit codes: usage 2, refused 1, unreachable 3', async (t) => {
  const gw = await batchGateway(t, { workers: false })
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const dir = await tempDir(t)
  const file = join(dir, 'items.ndjson')
  await writeFile(file, JSON.stringify((await verifyItems(1))[0]) + '\n')
  t.equal(await main(['submit', file, '--iss', 'VN.VIETTEL'], capture(url)), 2, 'no --service')
  t.equal(await main([], capture(url)), 2)
  t.equal(await main(['frobnicate'], capture(url)), 2)
  t.equal(await main(['submit', join(dir, 'missing.ndjson'), ...ARGS], capture(url)), 2)
  t.equal(await main(['status', '--iss', 'VN.VIETTEL'], capture(url)), 2)
  const help = capture(url)
  t.equal(await main(['--help'], help), 0)
  t.match(help.stdout, 'ndx batch submit')
  const refused = capture(url)
  t.equal(await main(['submit', file, ...ARGS.slice(0, -1), 'marketing'], refused), 1)
  t.match(refused.stdout, 'access.purpose')
  t.equal(await main(['status', '00000000-0000-4000-8000-000000000000', '--iss', 'VN.VIETTEL'], capture(url)), 1)
  t.equal(await main(['submit', file, ...ARGS], capture('http://127.0.0.1:1')), 3)
  t.equal(await runCli(['batch', '--help'], { out: () => {}, err: () => {}, env: {} }), 0, 'ndx batch is dispatched')
})

t.test('parseItems: one item per non-empty line, a line that is not JSON kept as text', async (t) => {
  t.same(parseItems('{"a":1}\n\nnot json\n[1]\n'), [{ a: 1 }, 'not json', [1]])
})
