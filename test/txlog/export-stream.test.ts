/**
 * The export streams with backpressure (CONTRACT §7 v1.1, "memory flat on 10 M records"): 50,000 records
 * in a real PostgreSQL log, read through a real socket by a client that stalls, goes away, or outlives the
 * database. The gateway reads a page only when the previous one has been taken, so a stalled client holds
 * the export at a few pages, and heap stays flat.
 */
import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { request } from 'undici'
import { demoSigner } from '../helpers/gateway.js'
import { logGateway, type LogGateway } from '../helpers/txlog.js'
import { record } from '../helpers/records.js'
import { signRequest } from '../../sdk/index.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const N = 50_000
const FROM = '2026-01-10T10:00:00.000Z'
const TO = '2026-01-10T11:00:00.000Z'

/** One record through the writer (it makes the day's partition), then N more straight into the table. */
async function fill (gw: LogGateway): Promise<void> {
  await gw.log.writer.write([record({ at: new Date(FROM) })])
  await gw.log.sql.query(`
    INSERT INTO ndx_tx (seq, id, time, client, key_id, service, operation, method, route, purpose, subject_ref,
      outcome, status, source, fields, duration_ms, upstream_ms, request_bytes, response_bytes, prev_hash, hash)
    SELECT i + 1, gen_random_uuid(), $1::timestamptz + i * interval '1 millisecond', 'VN.LOC.DNG', 'dng-2026-01',
      'population', 'citizen', 'GET', '/v1/population/citizens/{personalId}', 'public-service', md5(i::text),
      'ok', 200, 'upstream', '["fullName","dateOfBirth"]', 1.5, 0.5, 0, 321, md5(i::text) || md5(i::text),
      md5((i + 1)::text) || md5((i + 1)::text)
    FROM generate_series(1, $2::int) AS i`, [FROM, N])
}

/** Counts the pages the gateway reads from the log (the real query still runs). */
function countPages (gw: LogGateway): { readonly n: number } {
  const counter = { n: 0 }
  const list = gw.log.reader.list.bind(gw.log.reader)
  gw.log.reader.list = async (...args) => { counter.n++; return list(...args) }
  return counter
}

async function open (t: Test, url: string, format: 'ndjson' | 'csv') {
  const target = `/v1/audit/export?from=${FROM}&to=${TO}&format=${format}`
  const token = await signRequest(await demoSigner('VN.TTCP'), { method: 'GET', target })
  const res = await request(url + target, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 200)
  return res
}

function heap (): number {
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

t.test('a stalled reader holds the export at a few pages; a slow one still gets every record', async (t) => {
  const gw = await logGateway(t)
  await fill(gw)
  const pages = countPages(gw)
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const before = heap()

  const res = await open(t, url, 'csv')
  const body = res.body[Symbol.asyncIterator]()
  let text = ''
  const first = await body.next()
  text += (first.value as Buffer).toString('utf8')
  await sleep(1000)
  const stalled = pages.n
  const grown = heap() - before
  t.ok(stalled <= 20, `a stalled reader holds the gateway at ${stalled} of ${Math.ceil((N + 1) / 1000)} pages`)
  t.ok(grown < 16 * 1024 * 1024, `heap grew ${(grown / 1048576).toFixed(1)} MB while stalled (the export is ~34 MB)`)

  let rows = 0
  let peak = 0
  let chunks = 0
  for (;;) {
    const next = await body.next()
    if (next.done === true) break
    const chunk = (next.value as Buffer).toString('utf8')
    for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) rows++
    if (++chunks % 64 === 0) {
      await sleep(2)
      peak = Math.max(peak, heap() - before)
    }
    text = chunk
  }
  for (let i = first.value.indexOf('\n'); i !== -1; i = first.value.indexOf('\n', i + 1)) rows++
  t.equal(rows, N + 2, 'a header row and every record, the slow reader notwithstanding')
  t.match(text, /,[0-9a-f]{64}\r\n$/, 'the last row is whole')
  t.equal(pages.n, Math.ceil((N + 1) / 1000), 'each page read once')
  t.ok(peak < 24 * 1024 * 1024, `heap stayed within ${(peak / 1048576).toFixed(1)} MB of where it started`)
})

t.test('a client that goes away stops the export\'s queries', async (t) => {
  const gw = await logGateway(t)
  await fill(gw)
  const pages = countPages(gw)
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const res = await open(t, url, 'ndjson')
  const body = res.body[Symbol.asyncIterator]()
  await body.next()
  res.body.destroy()
  await sleep(300)
  const after = pages.n
  await sleep(700)
  t.equal(pages.n, after, 'no page read after the client left')
  t.ok(after < 20, `stopped at ${after} pages`)
})

t.test('a log that fails in mid-export cuts the reply: it never looks like a complete export', async (t) => {
  const gw = await logGateway(t)
  await fill(gw)
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const res = await open(t, url, 'ndjson')
  const body = res.body[Symbol.asyncIterator]()
  let lines = 0
  const count = (b: Buffer): void => { for (const c of b) if (c === 10) lines++ }
  count((await body.next()).value as Buffer)
  await gw.log.sql.exec('ALTER TABLE ndx_tx RENAME TO ndx_tx_away')
  t.teardown(() => gw.log.sql.exec('ALTER TABLE ndx_tx_away RENAME TO ndx_tx'))
  const rest = (async () => {
    for (;;) {
      const next = await body.next()
      if (next.done === true) return
      count(next.value as Buffer)
    }
  })()
  await t.rejects(rest, 'the client sees the reply cut, not a clean end')
  t.ok(lines < N + 1, `${lines} records arrived before the cut`)
})
