/**
 * Batch lookups (CONTRACT §10) end to end on real Redis, workers in process: submission, progress,
 * results in submission order, each item checked and recorded like a single call, bad items as problems,
 * clean refusals for the batch itself, and only the submitting agency sees its batch.
 */
import t from 'tap'
import { buildTestGateway, json, signedInject } from '../helpers/gateway.js'
import { Pseudonymizer } from '../../core/pseudonym.js'
import { batchGateway, results, status, submit, VERIFY, verifyItems, waitFor } from './helpers.js'

const finished = (s: Record<string, unknown>): boolean => s.state === 'done' || s.state === 'cancelled'

t.test('a batch runs every item like a single call: results in order, one record per item', async (t) => {
  const gw = await batchGateway(t)
  const good = await verifyItems(3)
  const wrongName = { params: good[1]?.params, body: { fullName: 'Nobody At All' } }
  const items = [
    good[0],
    'this line was not JSON',
    wrongName,
    { params: { personalId: '12345' }, body: { fullName: 'x' } },
    { params: good[2]?.params, body: { permanentAddress: 'somewhere' } },
    { params: { personalId: '999999999999' }, body: { fullName: 'x' } },
    { params: good[0]?.params },
    { params: good[0]?.params, body: { fullName: 'x' }, extra: 1 },
  ]
  const res = await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items })
  t.equal(res.status, 202)
  t.equal(res.body.total, items.length)
  const id = res.body.batchId as string
  t.match(id, /^[0-9a-f-]{36}$/)

  const s = await waitFor(gw.app, 'VN.VIETTEL', id, finished)
  t.match(s, { httpStatus: 200, batchId: id, state: 'done', total: 8, done: 2, failed: 6 })
  t.type(s.createdAt, 'string')
  t.type(s.finishedAt, 'string')

  const out = await results(gw.app, 'VN.VIETTEL', id)
  t.equal(out.status, 200)
  t.match(out.contentType, /^application\/x-ndjson/)
  t.same(out.lines.map((l) => l.index), [0, 1, 2, 3, 4, 5, 6, 7], 'one line per item, in submission order')
  t.same(
    out.lines[0],
    {
      index: 0,
      status: 200,
      data: { personalId: good[0]?.params.personalId, match: true, fields: { fullName: true } },
      transactionId: out.lines[0]?.transactionId,
    }
  )
  t.match(out.lines[1], { status: 400, problem: { code: 'request.invalid' } }, 'a malformed line is its own problem')
  t.match(out.lines[2], { status: 200, data: { match: false, fields: { fullName: false } } })
  t.match(out.lines[3], { status: 400, problem: { code: 'request.invalid', errors: [{ name: 'personalId' }] } })
  t.match(out.lines[4], { status: 403, problem: { code: 'access.field' } }, 'a field not granted is refused per item')
  t.match(out.lines[5], { status: 404, problem: { code: 'record.not_found' } })
  t.match(out.lines[6], { status: 400, problem: { code: 'request.invalid' } }, 'a verify without a body')
  t.match(out.lines[7], { status: 400, problem: { code: 'request.invalid', errors: [{ name: 'extra' }] } })
  for (const l of out.lines) {
    if (l.problem !== undefined) t.equal((l.problem as { transactionId: string }).transactionId, l.transactionId)
  }

  const pseudo = new Pseudonymizer(gw.config.gateway.secrets.pseudonymKey)
  const itemRecords = gw.sink.records.filter((r) => r.service === 'population')
  t.equal(itemRecords.length, items.length, 'one transaction record per item')
  for (const line of out.lines) {
    const mine = itemRecords.filter((r) => r.id === line.transactionId)
    t.equal(mine.length, 1, `item ${String(line.index)} has exactly one record`)
    const r = mine[0]
    t.match(
      r,
      {
        client: 'VN.VIETTEL',
        keyId: 'viettel-2026-01',
        operation: 'verify',
        purpose: 'subscriber-verification',
        route: '/v1/population/citizens/{personalId}/verify',
        method: 'POST',
        status: line.status,
      }
    )
    if (line.problem !== undefined) t.equal(r?.code, (line.problem as { code: string }).code)
  }
  t.equal(
    itemRecords.find((r) => r.id === out.lines[0]?.transactionId)?.subjectRef,
    pseudo.subjectRef(good[0]?.params.personalId as string),
    'the record names the item\'s subject'
  )
  t.match(itemRecords.find((r) => r.id === out.lines[5]?.transactionId), { outcome: 'not_found' })
  t.match(itemRecords.find((r) => r.id === out.lines[4]?.transactionId), { outcome: 'denied' })
  const submitted = gw.sink.records.filter((r) => r.service === 'batches')
  t.match(
    submitted.find((r) => r.operation === 'submit'),
    { client: 'VN.VIETTEL', status: 202, purpose: 'subscriber-verification', route: '/v1/batches' }
  )
})

t.test('items reuse kept records: one registry call serves every item of a subject', async (t) => {
  const gw = await batchGateway(t)
  const [item] = await verifyItems(1, 40)
  const id = item?.params.personalId as string
  const before = gw.sims.population.lookupCount(id)
  const res = await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items: [item, item, item, item] })
  await waitFor(gw.app, 'VN.VIETTEL', res.body.batchId as string, finished)
  t.equal(gw.sims.population.lookupCount(id) - before, 1, 'the registry was asked once')
  const sources = gw.sink.records.filter((r) => r.service === 'population').map((r) => r.source).sort()
  t.same(sources, ['reuse', 'reuse', 'reuse', 'upstream'])
})

t.test('the batch is refused whole like a single call when its grant or purpose does not allow it', async (t) => {
  const gw = await batchGateway(t, { workers: false, gatewayYaml: 'batch:\n  maxItems: 5\n' })
  const items = await verifyItems(2)
  t.match(
    await submit(gw.app, 'VN.LOC.DNG', { ...VERIFY, purpose: 'public-service', items }),
    { status: 403, body: { code: 'access.denied' } }
  )
  t.match(
    await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, purpose: 'marketing', items }),
    { status: 403, body: { code: 'access.purpose' } }
  )
  t.match(
    await submit(gw.app, 'VN.VIETTEL', { service: 'population', operation: 'verify', items }),
    { status: 403, body: { code: 'access.purpose' } },
    'no purpose at all'
  )
  t.match(
    await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items }, 'subscriber-verification'),
    { status: 202 },
    'the purpose may be in the token too'
  )
  t.match(
    await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items }, 'other'),
    { status: 400, body: { code: 'request.invalid', errors: [{ name: 'purpose' }] } }
  )
  t.match(
    await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, operation: 'unknown-op', items }),
    { status: 400, body: { code: 'request.invalid', errors: [{ name: 'operation' }] } }
  )
  t.match(
    await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items: [] }),
    { status: 400, body: { code: 'request.invalid' } }
  )
  t.match(await submit(gw.app, 'VN.VIETTEL', { ...VERIFY }), { status: 400, body: { code: 'request.invalid' } })
  t.match(
    await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items: await verifyItems(6) }),
    { status: 413, body: { code: 'request.too_large' } },
    'too many items'
  )
  const text = await signedInject(
    gw.app,
    'VN.VIETTEL',
    'POST',
    '/v1/batches',
    { body: 'x', headers: { 'content-type': 'text/plain' } }
  )
  t.match(json(text), { code: 'request.media_type' })
})

t.test('an over-size body is refused with 413 before anything is stored', async (t) => {
  const gw = await batchGateway(t, { workers: false, batchBodyBytes: 2048 })
  const res = await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items: await verifyItems(40) })
  t.match(res, { status: 413, body: { code: 'request.too_large' } })
  const keys = await gw.redis.keys(`${gw.prefix}batch:*`)
  t.same(keys, [], 'nothing stored')
  t.match(
    gw.sink.records.at(-1),
    { status: 413, code: 'request.too_large', outcome: 'rejected' },
    'the refusal is recorded'
  )
  t.match(
    await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items: await verifyItems(2) }),
    { status: 202 },
    'a batch under the limit is taken'
  )

  const roomy = await batchGateway(t, { workers: false })
  const big = { ...VERIFY, items: await verifyItems(1000) }
  t.ok(JSON.stringify(big).length > roomy.config.gateway.limits.bodyBytes, 'larger than a single call may send')
  t.match(
    await submit(roomy.app, 'VN.VIETTEL', big),
    { status: 202, body: { total: 1000 } },
    'batches have their own, larger limit'
  )
})

t.test('another agency cannot read, download or cancel a batch: the same 404 as for no batch', async (t) => {
  const gw = await batchGateway(t, { workers: false })
  const res = await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items: await verifyItems(2) })
  const id = res.body.batchId as string
  const routes = [
    ['GET', `/v1/batches/${id}`], ['GET', `/v1/batches/${id}/results`], ['DELETE', `/v1/batches/${id}`],
  ] as const
  for (const [method, target] of routes) {
    const theirs = await signedInject(gw.app, 'VN.EVN.HCMC', method as 'GET', target)
    t.equal(theirs.statusCode, 404, `${method} ${target} by another agency`)
    t.match(json(theirs), { code: 'route.not_found' })
  }
  const unknown = await signedInject(gw.app, 'VN.EVN.HCMC', 'GET', '/v1/batches/00000000-0000-4000-8000-000000000000')
  t.equal(unknown.statusCode, 404)
  t.equal(
    unknown.body.replace(/"transactionId":"[^"]+"/, ''),
    (await signedInject(gw.app, 'VN.EVN.HCMC', 'GET', `/v1/batches/${id}`)).body.replace(/"transactionId":"[^"]+"/, ''),
    'indistinguishable'
  )
  t.match(
    await status(gw.app, 'VN.VIETTEL', id),
    { httpStatus: 200, state: 'queued', total: 2, done: 0 },
    'the owner still sees it, untouched'
  )
  t.match(await status(gw.app, 'VN.VIETTEL', 'not-a-uuid'), { httpStatus: 404 })
})

t.test('cancelling stops what has not run; what ran keeps its result', async (t) => {
  const gw = await batchGateway(t, { rps: 5 })
  const res = await submit(gw.app, 'VN.VIETTEL', { ...VERIFY, items: await verifyItems(40, 100) })
  const id = res.body.batchId as string
  await waitFor(gw.app, 'VN.VIETTEL', id, (s) => (s.done as number) >= 2)
  const del = await signedInject(gw.app, 'VN.VIETTEL', 'DELETE' as 'GET', `/v1/batches/${id}`)
  t.equal(del.statusCode, 202)
  t.match(json(del), { state: 'cancelled' })
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const after = await status(gw.app, 'VN.VIETTEL', id)
  t.match(after, { state: 'cancelled' })
  t.ok((after.done as number) < 40, 'not every item ran')
  const out = await results(gw.app, 'VN.VIETTEL', id)
  t.equal(out.lines.length, after.done, 'results hold exactly the items that ran')
  t.equal(gw.sink.records.filter((r) => r.service === 'population').length, after.done, 'and records too')
  t.same(await gw.redis.keys(`${gw.prefix}batch:${id}:in`), [], 'the items not run are deleted')
})

t.test('standalone (no Redis): batch routes answer 503 gateway.unavailable', async (t) => {
  const gw = await buildTestGateway(t)
  const res = await signedInject(gw.app, 'VN.VIETTEL', 'POST', '/v1/batches', { body: { ...VERIFY, items: [{}] } })
  t.equal(res.statusCode, 503)
  t.match(json(res), { code: 'gateway.unavailable' })
  t.ok(res.headers['retry-after'])
  t.match(gw.sink.records.at(-1), { service: 'batches', operation: 'submit', status: 503 })
})
