/**
 * The auditors' console in a real browser (headless Chromium) against a real gateway with known traffic:
 * totals, a chart with the data, "who looked at this person" (refused attempts included), the integrity
 * view; and, for bad input, a clear message in the page rather than a blank page or a stack trace.
 */
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { generateAgencyKey, signerFromJwk } from '../../sdk/index.js'
import { startConsole, type RunningConsole } from '../../console/server.js'
import { demoSigner, json, sharedSimulators, signedInject } from '../helpers/gateway.js'
import { logGateway } from '../helpers/txlog.js'
import { record } from '../helpers/records.js'
import { sharedBrowser } from './browser.js'

const PERSON = '030075654294'
const CODES: Record<number, string> = { 403: 'access.field', 404: 'record.not_found', 503: 'upstream.unavailable' }

async function consoleFor (t: Test, gateway: string, agency = 'VN.TTCP'): Promise<RunningConsole> {
  const con = await startConsole({ gateway, signer: await demoSigner(agency), port: 0 })
  t.teardown(() => con.close())
  return con
}

async function open (t: Test, url: string): Promise<Page> {
  const page = await (await sharedBrowser()).newPage()
  t.teardown(() => page.close())
  await page.goto(url)
  return page
}

/** A gateway with known traffic: 7 records, 3 served, 2 refused, 1 not found, 1 failed. */
async function knownTraffic (t: Test) {
  const sims = await sharedSimulators(t)
  const gw = await logGateway(t)
  const from = new Date(Date.now() - 3_600_000).toISOString()
  const dng = (target: string) => signedInject(gw.app, 'VN.LOC.DNG', 'GET', target, { purpose: 'public-service' })
  await dng(`/v1/population/citizens/${PERSON}`)
  await dng(`/v1/population/citizens/${PERSON}?fields=phone`)
  await dng('/v1/population/citizens/999999999999')
  await signedInject(gw.app, 'VN.BHXH', 'GET', `/v1/population/citizens/${PERSON}`, { purpose: 'social-insurance' })
  await signedInject(gw.app, 'VN.BHXH', 'GET',
    '/v1/business-registry/enterprises/2627349851', { purpose: 'social-insurance' })
  await gw.app.inject({ method: 'GET', url: `/v1/population/citizens/${PERSON}` })
  sims.population.settings.failRate = 1
  await dng('/v1/population/citizens/001154711812')
  sims.population.settings.failRate = 0
  const to = new Date(Date.now() + 1).toISOString()
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  return { ...gw, url, from, to }
}

const text = (page: Page, selector: string) => page.locator(selector).innerText()

t.test('an auditor sees the totals, a chart, who looked at a person and the integrity of the log', async (t) => {
  const gw = await knownTraffic(t)
  const expected = json(await signedInject(gw.app, 'VN.TTCP', 'GET',
    `/v1/audit/counts?from=${gw.from}&to=${gw.to}&groupBy=outcome`))
  t.equal(expected.total, 7)
  const con = await consoleFor(t, gw.url)
  const requests: string[] = []
  const page = await (await sharedBrowser()).newPage()
  t.teardown(() => page.close())
  page.on('request', (r) => { requests.push(r.url()) })
  const errors: string[] = []
  page.on('pageerror', (e) => { errors.push(e.message) })
  await page.goto(`${con.url}/#from=${gw.from}&to=${gw.to}`)

  await page.waitForSelector('body[data-ready~="overview"]')
  t.equal(await text(page, '#total-all b'), '7', 'total')
  t.equal(await text(page, '#total-ok b'), '3', 'served')
  t.equal(await text(page, '#total-refused b'), '2', 'refused: denied and rejected')
  t.equal(await text(page, '#total-not-found b'), '1')
  t.equal(await text(page, '#total-error b'), '1')
  // Runs in the page (a string: this file is type-checked without the DOM library).
  const chart = await page.evaluate(`(() => {
    const canvas = document.getElementById('traffic-chart')
    const c = Chart.getChart(canvas)
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
    let painted = 0
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++
    return { series: c.data.datasets.map((d) => [d.label, d.data.reduce((a, b) => a + b, 0)]), painted }
  })()`) as { series: Array<[string, number]>, painted: number }
  t.same(chart.series, [['denied', 1], ['error', 1], ['not_found', 1], ['ok', 3], ['rejected', 1]],
    'the chart holds the traffic by outcome')
  t.ok(chart.painted > 1000, `the chart is drawn (${chart.painted} painted pixels)`)
  t.match(await text(page, '#top-clients'), /VN\.LOC\.DNG\s+4[\s\S]*VN\.BHXH\s+2/, 'top agencies, largest first')
  t.match(await text(page, '#top-codes'), /access\.field/, 'refusal codes')
  t.match(await text(page, '#purposes'), /population[\s\S]*public-service/, 'purposes per service')

  await page.click('#tabs button[data-tab="person"]')
  await page.fill('#person-form input[name="subject"]', PERSON)
  await page.click('#person-form button[type="submit"]')
  await page.waitForSelector('#person-summary')
  // The unsigned attempt is found too (CONTRACT §7 v1.1: subjectRef whatever the outcome), never as an agency's.
  t.match(await text(page, '#person-summary'),
    /4 attempts by 2 agencies and 1 unidentified caller: 2 served, 2 refused/)
  const rows = await page.locator('#person-result tbody tr').allInnerTexts()
  t.equal(rows.length, 4)
  t.match(rows[3], /\(unidentified\)[\s\S]*rejected[\s\S]*401 · auth\.missing/u, 'the unsigned attempt')
  t.match(rows[1], /VN\.LOC\.DNG[\s\S]*population · citizen[\s\S]*public-service[\s\S]*denied[\s\S]*403 · access\.field/u,
    'the refused attempt')
  t.match(rows[2], /VN\.BHXH[\s\S]*social-insurance[\s\S]*fullName[\s\S]*ok/, 'a served one, with the fields it saw')
  await page.locator('#person-result tbody tr').nth(1).click()
  await page.waitForSelector('#detail:not([hidden])')
  t.match(await text(page, '#detail'), /code\s+access\.field/, 'a record\'s detail')

  await page.click('#tabs button[data-tab="transactions"]')
  await page.waitForSelector('body[data-ready~="transactions"]')
  t.equal(await page.locator('#tx-table tbody tr').count(), 7, 'the transaction table')
  await page.selectOption('#filters select[name="outcome"]', 'denied')
  await page.click('#filters button[type="submit"]')
  await page.waitForSelector('#tx-table tbody tr:only-child')
  t.match(await text(page, '#tx-table tbody tr'), /access\.field/, 'filters apply')

  await page.click('#tabs button[data-tab="integrity"]')
  await page.waitForSelector('#verdict')
  t.match(await text(page, '#verdict'), /ok: the chain is intact/)
  t.equal(await text(page, '#checked'), '7', 'records checked')
  await page.waitForSelector('#keys table')
  t.match(await text(page, '#keys'), /ndx-gateway-checkpoint-demo\s+EC P-256 ES256/, 'the checkpoint key')

  t.same(errors, [], 'no script error')
  t.ok(await page.locator('#banner').isHidden(), 'no error banner')
  t.same(requests.filter((u) => !u.startsWith(con.url)), [],
    'the page talks to its local server only (no CDN, no gateway)')
})

t.test('an agency without the auditor role sees only its own records, and is told so', async (t) => {
  const gw = await knownTraffic(t)
  const con = await consoleFor(t, gw.url, 'VN.BHXH')
  const page = await open(t, `${con.url}/#from=${gw.from}&to=${gw.to}`)
  await page.waitForSelector('body[data-ready~="overview"]')
  t.equal(await text(page, '#total-all b'), '2')
  t.match(await text(page, '#role'), /VN\.BHXH does not hold the auditor role/)
  t.notMatch(await text(page, '#top-clients'), /VN\.LOC\.DNG/)
  await page.click('#tabs button[data-tab="integrity"]')
  await page.waitForSelector('body[data-ready~="integrity"]')
  t.match(await text(page, '#integrity-result'), /needs the auditor role/)
})

t.test('a gateway refusing the key: the page says so, in words', async (t) => {
  const gw = await knownTraffic(t)
  const { privateJwk } = await generateAgencyKey('ttcp-2026-01')
  const con = await startConsole({ gateway: gw.url, signer: await signerFromJwk('VN.TTCP', privateJwk), port: 0 })
  t.teardown(() => con.close())
  const page = await open(t, con.url)
  await page.waitForSelector('#banner:not([hidden])')
  t.match(await text(page, '#banner'),
    /The gateway refused the console's key \(401 auth\.\w+[^)]*\)\. Check that --iss names your agency/)
  t.match(await text(page, 'h1'), /VN\.TTCP/, 'the page is there, not blank')
  t.notMatch(await page.content(), /at \w+ \(|node:internal|Error:/, 'no stack trace')
})

t.test('an unreachable gateway: the page says which and why', async (t) => {
  const gw = await knownTraffic(t)
  await gw.app.close()
  const con = await consoleFor(t, gw.url)
  const page = await open(t, con.url)
  await page.waitForSelector('#banner:not([hidden])')
  t.match(await text(page, '#banner'),
    new RegExp(`The gateway at ${gw.url} cannot be reached: connection refused.*Check --url`))
  t.notMatch(await page.content(), /ECONNREFUSED|at \w+ \(/, 'no stack trace or raw error code')
})

t.test('a console whose local server has gone: the page says so', async (t) => {
  const gw = await knownTraffic(t)
  const con = await consoleFor(t, gw.url)
  const page = await open(t, `${con.url}/#from=${gw.from}&to=${gw.to}`)
  await page.waitForSelector('body[data-ready~="overview"]')
  await con.close()
  await page.click('#tabs button[data-tab="transactions"]')
  await page.waitForSelector('#banner:not([hidden])')
  t.match(await text(page, '#banner'), /local server is not answering/)
})

t.test('a day of traffic: a bar per UTC hour, split by agency; paging; an edited record caught', async (t) => {
  const gw = await logGateway(t)
  const hour = 3_600_000
  const now = Date.now()
  const start = Math.floor(now / hour) * hour - 24 * hour // the window ends before the console's own calls
  const agencies = [['VN.LOC.DNG', 'public-service'], ['VN.BHXH', 'social-insurance'],
    ['VN.EVN.HCMC', 'customer-verification'], ['VN.VIETTEL', 'subscriber-check']]
  const records = []
  for (let h = 0; h < 24; h++) {
    if (h === 3 || h === 4) continue // a quiet night
    const n = 8 + Math.round(12 * Math.sin((h / 24) * Math.PI) ** 2)
    for (let i = 0; i < n; i++) {
      const [client, purpose] = agencies[(h + i) % agencies.length] as [string, string]
      const refused = i % 9 === 4
      const status = refused ? 403 : i % 13 === 7 ? 404 : i % 17 === 5 ? 503 : 200
      const code = CODES[status] ?? null
      records.push(record({ at: new Date(start + h * hour + i * 60_000), client, purpose, status, code }))
    }
  }
  await gw.log.writer.write(records)
  const url = await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const con = await consoleFor(t, url)
  const from = new Date(start).toISOString()
  const to = new Date(start + 24 * hour).toISOString()
  const page = await open(t, `${con.url}/#from=${from}&to=${to}`)
  await page.setViewportSize({ width: 1280, height: 900 })
  await page.waitForSelector('body[data-ready~="overview"]')
  t.equal(await text(page, '#total-all b'), String(records.length))
  const bars = async () => await page.evaluate(`(() => {
    const c = Chart.getChart(document.getElementById('traffic-chart'))
    const totals = c.data.labels.map((_, i) => c.data.datasets.reduce((s, d) => s + d.data[i], 0))
    return { labels: c.data.labels.length, totals, series: c.data.datasets.map((d) => d.label) }
  })()`) as { labels: number, totals: number[], series: string[] }
  const byOutcome = await bars()
  t.equal(byOutcome.labels, 24, 'one bar per hour of the window')
  t.same(byOutcome.totals.map((n, h) => n === 0 ? h : -1).filter((h) => h >= 0), [3, 4],
    'the quiet hours are drawn as zero')
  t.equal(byOutcome.totals.reduce((a, b) => a + b, 0), records.length)
  t.same(byOutcome.series, ['denied', 'error', 'not_found', 'ok'])
  const shot = process.env.NDX_CONSOLE_SCREENSHOT
  if (shot !== undefined) await page.screenshot({ path: shot, fullPage: true })
  await page.selectOption('#split', 'client')
  await page.waitForSelector('body[data-ready~="overview"]:not([data-loading])')
  t.same((await bars()).series, ['VN.BHXH', 'VN.EVN.HCMC', 'VN.LOC.DNG', 'VN.VIETTEL'], 'split by agency')

  await page.click('#tabs button[data-tab="transactions"]')
  await page.waitForSelector('body[data-ready~="transactions"]:not([data-loading])')
  const firstRow = async () => await page.locator('#tx-table tbody tr').first().innerText()
  t.equal(await page.locator('#tx-table tbody tr').count(), 50, 'a page of 50')
  const page1 = await firstRow()
  await page.click('#next')
  await page.waitForSelector('#page-no:has-text("page 2")')
  t.not(await firstRow(), page1, 'the next page holds the next records')
  await page.click('#prev')
  await page.waitForSelector('#page-no:has-text("page 1")')
  t.equal(await firstRow(), page1, 'and back')

  const tampered = records[100] as { id: string }
  await gw.log.sql.query("UPDATE ndx_tx SET client = 'VN.SOMEONE.ELSE' WHERE id = $1", [tampered.id])
  await page.click('#tabs button[data-tab="integrity"]')
  await page.waitForSelector('#verdict')
  t.match(await text(page, '#verdict'), new RegExp(`NOT ok: the log was altered[\\s\\S]*${tampered.id}`),
    'an edited record is shown, by id')
})

t.test('v1.1 replies (problems, keys, checkpoint pages) are shown when the gateway gives them', async (t) => {
  const gw = await knownTraffic(t)
  const con = await consoleFor(t, gw.url)
  const page = await (await sharedBrowser()).newPage()
  t.teardown(() => page.close())
  // This gateway predates issue 9's additions: its replies are extended here as CONTRACT v1.1 words them.
  const hash = 'ab'.repeat(32)
  await page.route('**/api/v1/audit/integrity?**', (route) => route.fulfill({
    json: {
      checked: 7,
      ok: false,
      firstInvalid: null,
      problems: [{ kind: 'deleted', fromSeq: 4, toSeq: 5 }, { kind: 'checkpoint-invalid', fromSeq: 7, toSeq: 7 }],
    },
  }))
  await page.route('**/api/v1/audit/keys', (route) => route.fulfill({
    json: {
      keys: [{ kid: 'gw-2026', kty: 'OKP', crv: 'Ed25519', x: 'x'.repeat(43) },
        { kid: 'gw-2025', kty: 'EC', crv: 'P-256', x: 'y'.repeat(43) }],
    },
  }))
  await page.route('**/api/v1/audit/checkpoints?**', async (route) => {
    if (new URL(route.request().url()).searchParams.has('cursor')) {
      const items = [{ seq: 9, hash, time: gw.to, kid: 'gw-2026', jws: 'e.f.g' }]
      await route.fulfill({ json: { items, nextCursor: null } })
    } else {
      const items = [{ seq: 3, hash, time: gw.from, kid: 'gw-2025', jws: 'a.b.c' }]
      await route.fulfill({ json: { items, nextCursor: 'next' } })
    }
  })
  await page.goto(`${con.url}/#tab=integrity&from=${gw.from}&to=${gw.to}`)
  await page.waitForSelector('#keys table')
  t.match(await text(page, '#verdict'),
    /NOT ok[\s\S]*problems found\s+2[\s\S]*deleted\s+4\s+5[\s\S]*checkpoint-invalid\s+7\s+7/, 'every problem')
  t.match(await text(page, '#keys'), /gw-2026\s+OKP Ed25519[\s\S]*gw-2025\s+EC P-256/, 'every key, by kid')
  t.match(await text(page, '#checkpoints'), /3\s+\S+ \S+\s+gw-2025/)
  await page.click('#checkpoints button')
  await page.waitForSelector('#checkpoints tbody tr:nth-child(2)')
  t.match(await text(page, '#checkpoints'), /3[\s\S]*gw-2025[\s\S]*9[\s\S]*gw-2026/, 'paged checkpoints, "More"')
})
