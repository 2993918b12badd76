/**
 * A large transaction log for the `counts` benchmark: millions of records spread over days, made in
 * PostgreSQL by SQL (generate_series), with their hourly rollups — the shape months of NDXP traffic would
 * leave. The rows carry placeholder hashes: this dataset is for counting, not for integrity checks.
 */
import type { Sql } from '../gateway/txlog/sql.js'
import { partitionOf } from '../gateway/txlog/schema.js'

const CLIENTS = [
  'VN.LOC.DNG',
  'VN.BHXH',
  'VN.EVN.HCMC',
  'VN.VIETTEL',
  'VN.LOC.HN',
  'VN.LOC.HCM',
  'VN.BTC.THUE',
  'VN.BYT',
]
const OPS = [
  ['population', 'citizen'],
  ['population', 'verify'],
  ['civil-status', 'events'],
  ['civil-status', 'marital-status'],
  ['business-registry', 'enterprise'],
]

export async function countRows (sql: Sql): Promise<number> {
  try {
    return (await sql.query<{ n: number }>('SELECT count(*)::bigint AS n FROM ndx_tx'))[0]?.n ?? 0
  } catch {
    return 0
  }
}

/** Polls until the log holds at least `expected` records or `ms` pass; resolves with the last count. */
export async function waitForRows (sql: Sql, expected: number, ms: number): Promise<number> {
  const end = Date.now() + ms
  for (;;) {
    const n = await countRows(sql)
    if (n >= expected || Date.now() >= end) return n
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Seeds `perDay` records for each of `days` days ending yesterday (UTC), unless already there. */
export async function seedCounts (
  sql: Sql,
  days: number,
  perDay: number,
  progress: (day: number) => void
): Promise<{ from: Date; to: Date }> {
  const today = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z')
  const from = new Date(today.getTime() - days * 86_400_000)
  const clients = `ARRAY[${CLIENTS.map((c) => `'${c}'`).join(',')}]`
  const services = `ARRAY[${OPS.map(([s]) => `'${s as string}'`).join(',')}]`
  const operations = `ARRAY[${OPS.map(([, o]) => `'${o as string}'`).join(',')}]`
  for (let d = 0; d < days; d++) {
    const dayStart = new Date(from.getTime() + d * 86_400_000)
    const p = partitionOf(dayStart)
    await sql.exec(
      `CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF ndx_tx FOR VALUES FROM ('${p.from}') TO ('${p.to}')`
    )
    const base = d * perDay
    // Outcomes: 90% ok, 4% not_found, 3% denied, 2% rejected, 1% error; 70% of successes reused.
    await sql.query(
      `
      INSERT INTO ${p.name} (seq, id, time, client, key_id, service, operation, method, route, purpose,
                             subject_ref, on_behalf_of, outcome, status, code, source, fields, duration_ms,
                             upstream_ms, request_bytes, response_bytes, prev_hash, hash)
      SELECT $1::bigint + g, gen_random_uuid(),
             $2::timestamptz + ((g - 1) * (86400000.0 / $3)) * interval '1 millisecond',
             (${clients})[1 + (g % ${CLIENTS.length})], 'bench-key',
             (${services})[1 + (g / 7) % ${OPS.length}], (${operations})[1 + (g / 7) % ${OPS.length}],
             'GET', '/v1/bench/{id}', 'public-service', md5((g % 500000)::text), NULL,
             o.outcome, o.status, o.code,
             CASE WHEN o.outcome = 'ok' THEN (CASE WHEN g % 10 < 7 THEN 'reuse' ELSE 'upstream' END) END,
             '["fullName"]', 1.5, NULL, 0, 300, 'synthetic', 'synthetic'
      FROM generate_series(1, $3::int) g
      CROSS JOIN LATERAL (SELECT CASE WHEN g % 100 < 90 THEN 'ok' WHEN g % 100 < 94 THEN 'not_found'
                                      WHEN g % 100 < 97 THEN 'denied' WHEN g % 100 < 99 THEN 'rejected'
                                      ELSE 'error' END AS outcome) oc
      CROSS JOIN LATERAL (SELECT oc.outcome,
                                 CASE oc.outcome WHEN 'ok' THEN 200 WHEN 'not_found' THEN 404 WHEN 'denied' THEN 403
                                                 WHEN 'rejected' THEN 401 ELSE 503 END AS status,
                                 CASE oc.outcome WHEN 'ok' THEN NULL WHEN 'not_found' THEN 'record.not_found'
                                                 WHEN 'denied' THEN 'access.field' WHEN 'rejected' THEN 'auth.expired'
                                                 ELSE 'upstream.unavailable' END AS code) o`,
      [base, dayStart, perDay]
    )
    await sql.query(`
      INSERT INTO ndx_tx_hourly (hour, client, service, operation, outcome, source, n)
      SELECT date_trunc('hour', time), coalesce(client, ''), coalesce(service, ''), coalesce(operation, ''),
             outcome, coalesce(source, ''), count(*)
      FROM ${p.name} GROUP BY 1, 2, 3, 4, 5, 6
      ON CONFLICT (hour, client, service, operation, outcome, source) DO UPDATE SET n = EXCLUDED.n`)
    progress(d + 1)
  }
  await sql.query('UPDATE ndx_chain_head SET seq = $1, hash = $2', [days * perDay, 'synthetic'])
  await sql.exec('ANALYZE ndx_tx; ANALYZE ndx_tx_hourly')
  return { from, to: today }
}
