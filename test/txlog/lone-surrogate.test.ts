/**
 * An anonymous client cannot make the integrity check cry wolf: a claimed `iss` or `kid` holding a lone UTF-16
 * surrogate (sent escaped in the token, or made when a long value is cut in the middle of a pair) is stored
 * and hashed as the same well-formed text, so its record still matches its hash. Real PostgreSQL and PGlite.
 */
import t from 'tap'
import { checkIntegrity } from '../../gateway/txlog/integrity.js'
import { storable } from '../../gateway/txlog/record.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { logDatabase } from '../helpers/postgres.js'
import { record } from '../helpers/records.js'

const ALL = { from: new Date('2020-01-01T00:00:00Z'), to: new Date('2030-01-01T00:00:00Z') }
const NO_KEYS = { keys: null, checkpointEverySeconds: 60 }

t.test('storable text is well-formed UTF-16', async (t) => {
  const r = storable(record({ claimedClient: 'VN.LOC.DNG\ud800', keyId: `${'k'.repeat(255)}😀` }))
  t.equal(r.claimedClient, 'VN.LOC.DNG\ufffd', 'a lone high surrogate becomes U+FFFD')
  t.equal(r.keyId, `${'k'.repeat(255)}\ufffd`, 'a pair cut by the length bound leaves no half behind')
  t.equal(
    storable(record({ claimedClient: 'Đà Nẵng 😀' })).claimedClient,
    'Đà Nẵng 😀',
    'well-formed text is kept as it is'
  )
})

for (const kind of ['postgres', 'pglite'] as const) {
  t.test(`${kind}: records with lone surrogates in client-sent values still verify`, async (t) => {
    const sql = await logDatabase(t, kind)
    const writer = new LogWriter(sql)
    await writer.write([
      record({ client: null, claimedClient: 'VN.LOC.DNG\ud800' }),
      record({ client: null, claimedClient: `${'A'.repeat(127)}😀`, keyId: '\udc00kid' }),
      record(),
    ])
    t.same(await checkIntegrity(sql, ALL.from, ALL.to, NO_KEYS), {
      checked: 3,
      ok: true,
      firstInvalid: null,
      problems: [],
    })
  })
}
