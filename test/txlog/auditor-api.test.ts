/**
 * CONTRACT §7 through the gateway: every /v1 request becomes exactly one record before its reply; auditors
 * count and trace them; other agencies see only their own; integrity catches a row edited in the database.
 */
import t from 'tap'
import { buildTestGateway, json, sharedSimulators, signedInject } from '../helpers/gateway.js'
import { logGateway } from '../helpers/txlog.js'

/** A reply without its `window` (checked in auditor-api-v11.test.ts). */
function body (res: Parameters<typeof json>[0]): Record<string, unknown> {
  const { window: _window, ...rest } = json(res)
  return rest
}

t.test('an auditor\'s session over a known mix of outcomes', async (t) => {
  const sims = await sharedSimulators(t)
  const { app, log } = await logGateway(t)
  const dng = (target: string, opts = {}) =>
    signedInject(app, 'VN.LOC.DNG', 'GET', target, { purpose: 'public-service', ...opts })
  const served: string[] = []
  const keep = async (p: ReturnType<typeof dng>) => {
    const r = await p
    served.push(r.headers['x-transaction-id'] as string)
    return r
  }

  await keep(dng('/v1/population/citizens/030075654294'))
  await keep(dng('/v1/population/citizens/030075654294?fields=fullName'))
  await keep(dng('/v1/population/citizens/096179024395'))
  await keep(dng('/v1/population/citizens/999999999999'))
  await keep(dng('/v1/population/citizens/030075654294?fields=phone'))
  await keep(dng('/v1/population/citizens/12345'))
  await keep(
    signedInject(app, 'VN.BHXH', 'GET', '/v1/population/citizens/030075654294', {
      purpose: 'social-insurance',
      sub: 'officer-17',
    })
  )
  await keep(
    signedInject(app, 'VN.BHXH', 'GET', '/v1/business-registry/enterprises/2627349851', {
      purpose: 'social-insurance',
    })
  )
  await keep(
    signedInject(app, 'VN.EVN.HCMC', 'POST', '/v1/population/citizens/030075654294/verify', {
      purpose: 'customer-verification',
      body: { fullName: 'Dương Đức Việt' },
    })
  )
  await keep(app.inject({ method: 'GET', url: '/v1/population/citizens/030075654294' }))
  sims.population.settings.failRate = 1
  await keep(dng('/v1/population/citizens/001154711812'))
  sims.population.settings.failRate = 0

  const audit = (target: string, agency = 'VN.TTCP') => signedInject(app, agency, 'GET', target)
  const counts = await audit('/v1/audit/counts?groupBy=client,outcome')
  t.equal(counts.statusCode, 200)
  t.same(body(counts), {
    total: 11,
    groups: [
      { client: 'VN.BHXH', outcome: 'ok', count: 2 },
      { client: 'VN.EVN.HCMC', outcome: 'ok', count: 1 },
      { client: 'VN.LOC.DNG', outcome: 'denied', count: 1 },
      { client: 'VN.LOC.DNG', outcome: 'error', count: 1 },
      { client: 'VN.LOC.DNG', outcome: 'not_found', count: 1 },
      { client: 'VN.LOC.DNG', outcome: 'ok', count: 3 },
      { client: 'VN.LOC.DNG', outcome: 'rejected', count: 1 },
      { client: null, outcome: 'rejected', count: 1 },
    ],
  }, 'exact counts by agency and outcome')

  const today = new Date().toISOString().slice(0, 10)
  const byService = body(await audit('/v1/audit/counts?groupBy=service,operation,day&outcome=ok'))
  t.same(byService, {
    total: 7,
    groups: [
      { service: 'audit', operation: 'counts', day: today, count: 1 },
      { service: 'business-registry', operation: 'enterprise', day: today, count: 1 },
      { service: 'population', operation: 'citizen', day: today, count: 4 },
      { service: 'population', operation: 'verify', day: today, count: 1 },
    ],
  }, 'the auditor\'s own calls are records too (service audit)')

  const who = json(await audit('/v1/audit/transactions?subject=030075654294&outcome=ok')) as {
    items: Array<Record<string, unknown>>
    nextCursor: string | null
  }
  t.same(
    who.items.map((r) => [r.client, r.operation, r.fields]),
    [
      [
        'VN.LOC.DNG',
        'citizen',
        [
          'personalId',
          'fullName',
          'dateOfBirth',
          'gender',
          'permanentAddress',
          'currentAddress',
          'householdHead',
          'relationToHouseholdHead',
        ],
      ],
      ['VN.LOC.DNG', 'citizen', ['fullName']],
      [
        'VN.BHXH',
        'citizen',
        [
          'personalId',
          'fullName',
          'dateOfBirth',
          'gender',
          'permanentAddress',
          'father',
          'mother',
          'spouse',
          'maritalStatus',
          'dateOfDeath',
        ],
      ],
      ['VN.EVN.HCMC', 'verify', ['fullName']],
    ],
    'who looked at this person, and what they saw'
  )
  t.equal(who.nextCursor, null)
  t.notMatch(JSON.stringify(who), /030075654294|officer-17|Dương/, 'records hold no raw subject, sub or payload')
  t.type(who.items[2]?.onBehalfOf, 'string')

  const all: string[] = []
  let cursor: string | null = null
  do {
    const page = json(await audit(`/v1/audit/transactions?limit=4${cursor === null ? '' : `&cursor=${cursor}`}`)) as {
      items: Array<{ id: string; service: string }>
      nextCursor: string | null
    }
    all.push(...page.items.filter((r) => r.service !== 'audit').map((r) => r.id))
    cursor = page.nextCursor
  } while (cursor !== null)
  t.same(all, served, 'every request of the session exactly once, oldest first, across pages')

  const one = json(await audit(`/v1/audit/transactions/${served[3]!}`))
  t.match(one, { id: served[3], client: 'VN.LOC.DNG', outcome: 'not_found', status: 404, code: 'record.not_found', route: '/v1/population/citizens/{personalId}', method: 'GET', prevHash: /^[0-9a-f]{64}$/, hash: /^[0-9a-f]{64}$/ })
  t.equal(json(await audit('/v1/audit/transactions/01a20b57-6c90-7293-9daf-fc6dbf17a0ce')).code, 'record.not_found')

  const { total } = json(await audit('/v1/audit/counts')) as { total: number }
  t.same(
    json(await audit('/v1/audit/integrity')),
    { checked: total + 1, ok: true, firstInvalid: null, problems: [] },
    'every record so far, the counts call included'
  )
  await log.sql.query("UPDATE ndx_tx SET outcome = 'ok', status = 200 WHERE id = $1", [served[4]])
  const seq = (json(await audit(`/v1/audit/transactions/${served[4]!}`)) as { seq: number }).seq
  t.same(
    json(await audit('/v1/audit/integrity')),
    {
      checked: total + 3,
      ok: false,
      firstInvalid: served[4],
      problems: [{ kind: 'edited', fromSeq: seq, toSeq: seq }],
    },
    'a row edited in the database is caught'
  )

  const last = json(
    await audit('/v1/audit/transactions?service=audit&operation=transactions&subject=030075654294')
  ) as { items: Array<Record<string, unknown>> }
  t.equal(last.items.length, 1, 'looking someone up in the log is itself logged, under the same pseudonym')
  t.equal(last.items[0]?.client, 'VN.TTCP')
})

t.test('agencies other than auditors see only their own records', async (t) => {
  const { app } = await logGateway(t)
  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
  const bhxh = await signedInject(app, 'VN.BHXH', 'GET', '/v1/business-registry/enterprises/2627349851', {
    purpose: 'social-insurance',
  })
  const mine = json(await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/audit/transactions')) as {
    items: Array<{ client: string }>
  }
  t.same([...new Set(mine.items.map((r) => r.client))], ['VN.LOC.DNG'])
  t.equal(
    json(await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/audit/transactions?client=VN.BHXH')).code,
    'access.denied'
  )
  t.equal(
    json(
      await signedInject(
        app,
        'VN.LOC.DNG',
        'GET',
        `/v1/audit/transactions/${bhxh.headers['x-transaction-id'] as string}`
      )
    ).code,
    'record.not_found'
  )
  t.same(
    json(await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/audit/counts?groupBy=client')).groups,
    [{ client: 'VN.LOC.DNG', count: 4 }],
    'its lookup and its three audit calls'
  )
  t.equal(json(await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/audit/integrity')).code, 'access.role')
  t.equal(json(await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/audit/checkpoints')).code, 'access.role')
})

t.test('the auditor API refuses malformed queries', async (t) => {
  const { app } = await logGateway(t)
  const q = async (target: string) => json(await signedInject(app, 'VN.TTCP', 'GET', target))
  t.match(await q('/v1/audit/transactions?from=yesterday'), { code: 'request.invalid', errors: [{ name: 'from' }] })
  t.match(await q('/v1/audit/transactions?from=2026-11-24T00:00:00Z&to=2026-11-23T00:00:00Z'), {
    code: 'request.invalid',
    errors: [{ name: 'to' }],
  })
  t.match(await q('/v1/audit/transactions?limit=1001'), { errors: [{ name: 'limit' }] })
  t.match(await q('/v1/audit/transactions?limit=0'), { errors: [{ name: 'limit' }] })
  t.match(await q('/v1/audit/transactions?cursor=bm9wZQ'), { errors: [{ name: 'cursor' }] })
  t.match(await q('/v1/audit/transactions?outcome=great'), { errors: [{ name: 'outcome' }] })
  t.match(await q('/v1/audit/transactions?sort=desc'), { errors: [{ name: 'sort' }] })
  t.match(await q('/v1/audit/counts?groupBy=client,client'), { errors: [{ name: 'groupBy' }] })
  t.match(await q('/v1/audit/counts?groupBy=password'), { errors: [{ name: 'groupBy' }] })
  t.match(await q('/v1/audit/transactions/not-a-uuid'), { errors: [{ name: 'id' }] })
})

t.test('without a transaction log the auditor API says so', async (t) => {
  const { app } = await buildTestGateway(t)
  const res = await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/counts')
  t.equal(res.statusCode, 503)
  t.equal(json(res).code, 'gateway.unavailable')
})

t.test('standalone: the same API over PGlite', async (t) => {
  const { app } = await logGateway(t, { database: 'pglite' })
  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/030075654294', { purpose: 'public-service' })
  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/999999999999', { purpose: 'public-service' })
  t.same(body(await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/counts?groupBy=outcome')), {
    total: 2,
    groups: [
      { outcome: 'not_found', count: 1 },
      { outcome: 'ok', count: 1 },
    ],
  })
  t.same(json(await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/integrity')), {
    checked: 3,
    ok: true,
    firstInvalid: null,
    problems: [],
  })
})
