/**
 * The auditor API's v1.1 additions (CONTRACT §7), each against the attack or gap that called for it:
 * forged attribution, refused attempts invisible per person, purpose/code filters and groupBy, `window`,
 * `seq`/`stale`/`replayGuard`/`claimedClient` in records, paged checkpoints, out-of-range cursors, the
 * checkpoint keys. Real PostgreSQL.
 */
import t from 'tap'
import { generateKeyPair } from 'jose'
import { signRequest, type Signer } from '../../sdk/index.js'
import { demoSigner, json, signedInject } from '../helpers/gateway.js'
import { logGateway } from '../helpers/txlog.js'

const CITIZEN = '/v1/population/citizens/030075654294'

t.test('a token claiming VN.BHXH but signed by another key is never attributed to VN.BHXH', async (t) => {
  const { app } = await logGateway(t)
  const bhxh = await demoSigner('VN.BHXH')
  const forger: Signer = {
    agencyId: 'VN.BHXH',
    kid: bhxh.kid,
    alg: 'ES256',
    key: (await generateKeyPair('ES256')).privateKey,
  }
  const token = await signRequest(forger, { method: 'GET', target: CITIZEN, purpose: 'social-insurance' })
  const res = await app.inject({ method: 'GET', url: CITIZEN, headers: { authorization: `Bearer ${token}` } })
  t.equal(json(res).code, 'auth.signature')
  const id = res.headers['x-transaction-id'] as string
  await signedInject(app, 'VN.BHXH', 'GET', CITIZEN, { purpose: 'social-insurance' })

  const record = json(await signedInject(app, 'VN.TTCP', 'GET', `/v1/audit/transactions/${id}`))
  t.match(record, {
    id,
    client: null,
    keyId: null,
    claimedClient: 'VN.BHXH',
    outcome: 'rejected',
    code: 'auth.signature',
  })
  const own = json(await signedInject(app, 'VN.BHXH', 'GET', '/v1/audit/transactions?service=population')) as {
    items: Array<{ id: string }>
  }
  t.equal(own.items.length, 1, 'VN.BHXH\'s own listing holds its own lookup only')
  t.notOk(own.items.some((r) => r.id === id))
  const counts = json(
    await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/counts?service=population&groupBy=client')
  ) as { groups: unknown[] }
  t.same(counts.groups, [{ client: 'VN.BHXH', count: 1 }, { client: null, count: 1 }], 'counted as nobody\'s')
})

t.test('refused attempts on a person are found by "who looked at this person"', async (t) => {
  const { app } = await logGateway(t)
  t.equal(
    json(await signedInject(app, 'VN.VIETTEL', 'GET', CITIZEN, { purpose: 'subscriber-verification' })).code,
    'access.denied'
  )
  t.equal(json(await signedInject(app, 'VN.LOC.DNG', 'GET', CITIZEN, { purpose: 'marketing' })).code, 'access.purpose')
  t.equal((await signedInject(app, 'VN.LOC.DNG', 'GET', CITIZEN, { purpose: 'public-service' })).statusCode, 200)
  const who = json(
    await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/transactions?subject=030075654294&service=population')
  ) as { items: Array<{ client: string; code: string | null }> }
  t.same(
    who.items.map((r) => [r.client, r.code]),
    [
      ['VN.VIETTEL', 'access.denied'],
      ['VN.LOC.DNG', 'access.purpose'],
      ['VN.LOC.DNG', null],
    ]
  )
})

t.test('purpose and code filter and group; replies echo their window, an empty one too', async (t) => {
  const { app } = await logGateway(t)
  await signedInject(app, 'VN.LOC.DNG', 'GET', CITIZEN, { purpose: 'public-service' })
  await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/population/citizens/999999999999', { purpose: 'public-service' })
  await signedInject(app, 'VN.LOC.DNG', 'GET', CITIZEN, { purpose: 'marketing' })
  const audit = async (q: string) => json(await signedInject(app, 'VN.TTCP', 'GET', q))
  const grouped = await audit('/v1/audit/counts?service=population&groupBy=purpose,code')
  t.same(grouped.groups, [
    { purpose: 'marketing', code: 'access.purpose', count: 1 },
    { purpose: 'public-service', code: 'record.not_found', count: 1 },
    { purpose: 'public-service', code: null, count: 1 },
  ])
  t.equal((await audit('/v1/audit/counts?purpose=public-service')).total, 2)
  const listed = await audit('/v1/audit/transactions?code=record.not_found') as { items: Array<{ status: number }> }
  t.same(listed.items.map((r) => r.status), [404])
  const from = '2026-01-05T00:00:00.000Z'
  const to = '2026-01-06T00:00:00.000Z'
  const empty = await audit(`/v1/audit/transactions?subject=030075654294&from=${from}&to=${to}`)
  t.same(empty, { items: [], nextCursor: null, window: { from, to } }, 'an empty answer says which days it covered')
  const def = await audit('/v1/audit/counts') as { window: { from: string, to: string } }
  t.equal(Date.parse(def.window.to) - Date.parse(def.window.from), 86_400_000, 'the default window: the last 24 hours')
  t.match(await audit('/v1/audit/counts?code=DROP%20TABLE'), { code: 'request.invalid', errors: [{ name: 'code' }] })
})

t.test('records carry seq, stale, replayGuard and claimedClient', async (t) => {
  const { app } = await logGateway(t)
  const a = await signedInject(app, 'VN.LOC.DNG', 'GET', CITIZEN, { purpose: 'public-service' })
  const b = await signedInject(app, 'VN.LOC.DNG', 'GET', CITIZEN, { purpose: 'public-service' })
  const ra = json(
    await signedInject(app, 'VN.TTCP', 'GET', `/v1/audit/transactions/${a.headers['x-transaction-id'] as string}`)
  )
  const rb = json(
    await signedInject(app, 'VN.TTCP', 'GET', `/v1/audit/transactions/${b.headers['x-transaction-id'] as string}`)
  )
  t.match(ra, { seq: Number, stale: false, claimedClient: null })
  t.ok('replayGuard' in ra)
  t.equal(rb.seq, (ra.seq as number) + 1)
})

t.test('checkpoints are paged with a cursor; cursors out of range are refused as invalid, not 503', async (t) => {
  const { app, log } = await logGateway(t)
  for (let i = 0; i < 5; i++) {
    await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/business-registry/enterprises/2627349851')
    await log.checkpointer!.checkpoint(log.sql)
  }
  const seen: Array<{ seq: number, kid: string }> = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page = json(
      await signedInject(
        app,
        'VN.TTCP',
        'GET',
        `/v1/audit/checkpoints?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`
      )
    ) as { items: Array<{ seq: number; kid: string }>; nextCursor: string | null }
    seen.push(...page.items)
    cursor = page.nextCursor
    pages++
  } while (cursor !== null && pages < 10)
  t.equal(pages, 3)
  t.same(seen.map((c) => c.seq), [1, 2, 3, 4, 5])
  t.ok(seen.every((c) => c.kid === 'ndx-gateway-checkpoint-demo'), 'each names its key')
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  for (const [target, what] of [
    [`/v1/audit/checkpoints?cursor=${enc([1e300])}`, 'seq 1e300'],
    [`/v1/audit/transactions?cursor=${enc([new Date().toISOString(), 2 ** 63])}`, 'seq 2^63'],
    [`/v1/audit/transactions?cursor=${enc(['-271821-04-20T00:00:00.000Z', 1])}`, 'a time PostgreSQL cannot hold'],
    [`/v1/audit/transactions?cursor=${enc([new Date().toISOString(), -1])}`, 'a negative seq'],
  ] as const) {
    const res = await signedInject(app, 'VN.TTCP', 'GET', target)
    t.equal(res.statusCode, 400, what)
    t.match(json(res), { code: 'request.invalid', errors: [{ name: 'cursor' }] })
  }
})

t.test('GET /v1/audit/keys publishes the checkpoint keys as a JWKS', async (t) => {
  const { app } = await logGateway(t)
  const jwks = json(await signedInject(app, 'VN.LOC.DNG', 'GET', '/v1/audit/keys')) as {
    keys: Array<Record<string, unknown>>
  }
  t.equal(jwks.keys.length, 1)
  t.match(jwks.keys[0], { kid: 'ndx-gateway-checkpoint-demo', kty: 'EC', alg: 'ES256', use: 'sig' })
  t.notOk('d' in jwks.keys[0]!, 'public halves only')
})

t.test(
  'secrets.checkpointPublicKeys: earlier keys are loaded from the config and published beside the current one',
  async (t) => {
    const { writeFile, readFile } = await import('node:fs/promises')
    const { join } = await import('node:path')
    const { exportJWK } = await import('jose')
    const { copyConfig, demoConfig } = await import('../helpers/gateway.js')
    const { CHECKPOINT_ENV } = await import('../helpers/txlog.js')
    const dir = await copyConfig(t)
    const old = await generateKeyPair('ES256', { extractable: true })
    await writeFile(
      join(dir, 'checkpoint-2025.public.jwk.json'),
      JSON.stringify({ ...(await exportJWK(old.publicKey)), kid: 'checkpoint-2025', alg: 'ES256' })
    )
    const yaml = await readFile(join(dir, 'gateway.yaml'), 'utf8')
    await writeFile(
      join(dir, 'gateway.yaml'),
      yaml.replace(
        /^(\s+)checkpointKeyFile:(.*)$/m,
        '$1checkpointKeyFile:$2\n$1checkpointPublicKeys: [checkpoint-2025.public.jwk.json]'
      )
    )
    const config = await demoConfig(t, CHECKPOINT_ENV, dir)
    t.same(config.gateway.secrets.checkpointPublicKeys, ['checkpoint-2025.public.jwk.json'])
    const { app } = await logGateway(t, { config })
    const jwks = json(await signedInject(app, 'VN.TTCP', 'GET', '/v1/audit/keys')) as { keys: Array<{ kid: string }> }
    t.same(
      jwks.keys.map((k) => k.kid),
      ['ndx-gateway-checkpoint-demo', 'checkpoint-2025']
    )
  }
)
