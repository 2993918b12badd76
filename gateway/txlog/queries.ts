/**
 * Reading the log for auditors (CONTRACT §7): filtered, cursor-paged listings oldest first, one record by
 * id, counts grouped by any of client/service/operation/outcome/source/day/hour (from the hourly rollup for
 * whole hours, from records only for the partial hours at the edges), and the chain's integrity.
 */
import { chainHash } from './chain.js'
import type { Outcome, TransactionRecord } from './record.js'
import type { Sql } from './sql.js'

export interface LogFilter {
  readonly from: Date
  readonly to: Date
  readonly client?: string
  readonly service?: string
  readonly operation?: string
  readonly outcome?: Outcome
  readonly source?: string
  readonly subjectRef?: string
}

export const GROUP_KEYS = ['client', 'service', 'operation', 'outcome', 'source', 'day', 'hour'] as const
export type GroupKey = typeof GROUP_KEYS[number]

export interface Counts {
  total: number
  groups: Array<Record<string, string | number | null>>
}

interface Row {
  seq: number, id: string, time: Date, client: string | null, key_id: string | null, service: string | null, operation: string | null,
  method: string, route: string | null, purpose: string | null, subject_ref: string | null, on_behalf_of: string | null,
  outcome: Outcome, status: number, code: string | null, source: 'upstream' | 'reuse' | null, fields: string | null,
  duration_ms: number, upstream_ms: number | null, request_bytes: number, response_bytes: number, prev_hash: string, hash: string
}

export function toRecord (r: Row): TransactionRecord {
  return {
    id: r.id,
    time: new Date(r.time).toISOString(),
    client: r.client,
    keyId: r.key_id,
    service: r.service,
    operation: r.operation,
    method: r.method,
    route: r.route,
    purpose: r.purpose,
    subjectRef: r.subject_ref,
    onBehalfOf: r.on_behalf_of,
    outcome: r.outcome,
    status: r.status,
    code: r.code,
    source: r.source,
    fields: r.fields === null ? null : JSON.parse(r.fields) as string[],
    durationMs: r.duration_ms,
    upstreamMs: r.upstream_ms,
    requestBytes: r.request_bytes,
    responseBytes: r.response_bytes,
    prevHash: r.prev_hash,
    hash: r.hash,
  }
}

const FILTER_COLUMNS = { client: 'client', service: 'service', operation: 'operation', outcome: 'outcome', source: 'source', subjectRef: 'subject_ref' } as const

/** WHERE clause over the records table, or the hourly rollup (`timeColumn` hour). */
function where (f: LogFilter, params: unknown[], timeColumn = 'time'): string {
  params.push(f.from, f.to)
  const parts = [`${timeColumn} >= $${params.length - 1}`, `${timeColumn} < $${params.length}`]
  for (const [key, column] of Object.entries(FILTER_COLUMNS) as Array<[keyof typeof FILTER_COLUMNS, string]>) {
    const value = f[key]
    if (value === undefined) continue
    params.push(value)
    parts.push(`${column} = $${params.length}`)
  }
  return parts.join(' AND ')
}

function groupExpr (key: GroupKey, rollup: boolean): string {
  const time = rollup ? 'hour' : 'time'
  switch (key) {
    case 'day': return `to_char(${time} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
    case 'hour': return `to_char(date_trunc('hour', ${time} AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00:00.000"Z"')`
    default: return rollup ? `NULLIF(${key}, '')` : key
  }
}

export function encodeCursor (time: string, seq: number): string {
  return Buffer.from(JSON.stringify([time, seq])).toString('base64url')
}

export function decodeCursor (cursor: string): { time: string, seq: number } | null {
  try {
    const [time, seq] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown]
    if (typeof time !== 'string' || Number.isNaN(Date.parse(time)) || typeof seq !== 'number' || !Number.isInteger(seq)) return null
    return { time, seq }
  } catch {
    return null
  }
}

export class LogReader {
  readonly #sql: Sql

  constructor (sql: Sql) {
    this.#sql = sql
  }

  async list (filter: LogFilter, limit: number, cursor: { time: string, seq: number } | null): Promise<{ items: TransactionRecord[], nextCursor: string | null }> {
    const params: unknown[] = []
    let clause = where(filter, params)
    if (cursor !== null) {
      params.push(cursor.time, cursor.seq)
      clause += ` AND (time, seq) > ($${params.length - 1}::timestamptz, $${params.length}::bigint)`
    }
    params.push(limit + 1)
    const rows = await this.#sql.query<Row>(`SELECT * FROM ndx_tx WHERE ${clause} ORDER BY time, seq LIMIT $${params.length}`, params)
    const page = rows.slice(0, limit)
    const last = page[page.length - 1]
    return {
      items: page.map(toRecord),
      nextCursor: rows.length > limit && last !== undefined ? encodeCursor(new Date(last.time).toISOString(), last.seq) : null,
    }
  }

  /** One record; the id's own timestamp (UUIDv7) narrows the search to a few partitions. */
  async get (id: string): Promise<TransactionRecord | null> {
    const ms = Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)
    const rows = Number.isFinite(ms) && id[14] === '7'
      ? await this.#sql.query<Row>('SELECT * FROM ndx_tx WHERE id = $1 AND time >= $2 AND time <= $3', [id, new Date(ms - 86_400_000), new Date(ms + 86_400_000)])
      : await this.#sql.query<Row>('SELECT * FROM ndx_tx WHERE id = $1', [id])
    return rows[0] === undefined ? null : toRecord(rows[0])
  }

  async counts (filter: LogFilter, groupBy: readonly GroupKey[]): Promise<Counts> {
    const whole = { from: ceilHour(filter.from), to: floorHour(filter.to) }
    const parts: Array<Promise<Array<Record<string, unknown>>>> = []
    // The subject filter has no rollup: count the records themselves.
    if (filter.subjectRef !== undefined || whole.from >= whole.to) {
      parts.push(this.#countRows(filter, groupBy, false))
    } else {
      parts.push(this.#countRows({ ...filter, ...whole }, groupBy, true))
      if (filter.from < whole.from) parts.push(this.#countRows({ ...filter, to: whole.from }, groupBy, false))
      if (whole.to < filter.to) parts.push(this.#countRows({ ...filter, from: whole.to }, groupBy, false))
    }
    const merged = new Map<string, Record<string, string | number | null>>()
    let total = 0
    for (const rows of await Promise.all(parts)) {
      for (const row of rows) {
        const n = Number(row.n)
        total += n
        const group: Record<string, string | number | null> = {}
        for (const k of groupBy) group[k] = (row[k] ?? null) as string | null
        const key = JSON.stringify(groupBy.map((k) => group[k]))
        const found = merged.get(key)
        if (found === undefined) merged.set(key, { ...group, count: n })
        else found.count = (found.count as number) + n
      }
    }
    const groups = groupBy.length === 0 ? [] : [...merged.values()].sort((a, b) => JSON.stringify(groupBy.map((k) => a[k])).localeCompare(JSON.stringify(groupBy.map((k) => b[k]))))
    return { total, groups }
  }

  #countRows (f: LogFilter, groupBy: readonly GroupKey[], rollup: boolean): Promise<Array<Record<string, unknown>>> {
    const params: unknown[] = []
    const clause = where(f, params, rollup ? 'hour' : 'time')
    const select = groupBy.map((k) => `${groupExpr(k, rollup)} AS "${k}"`)
    const count = rollup ? 'sum(n)::bigint' : 'count(*)::bigint'
    const group = groupBy.length === 0 ? '' : ` GROUP BY ${groupBy.map((_, i) => i + 1).join(', ')}`
    return this.#sql.query(`SELECT ${[...select, `${count} AS n`].join(', ')} FROM ${rollup ? 'ndx_tx_hourly' : 'ndx_tx'} WHERE ${clause}${group}`, params)
  }

  /**
   * Recomputes the chain over the records of [from, to) in chain order: each hash must match its record
   * and link to the one before; checkpoints in the range must match. The first record's predecessor is
   * taken as given (it may be outside the range, or purged).
   */
  async integrity (from: Date, to: Date, checkpointOk: (c: { seq: number, hash: string, jws: string }) => Promise<boolean>): Promise<{ checked: number, ok: boolean, firstInvalid: string | null }> {
    const [bounds] = await this.#sql.query<{ lo: number | null, hi: number | null }>('SELECT min(seq) AS lo, max(seq) AS hi FROM ndx_tx WHERE time >= $1 AND time < $2', [from, to])
    if (bounds?.lo == null || bounds.hi == null) return { checked: 0, ok: true, firstInvalid: null }
    const checkpoints = new Map((await this.#sql.query<{ seq: number, hash: string, jws: string }>('SELECT seq, hash, jws FROM ndx_checkpoints WHERE seq >= $1 AND seq <= $2', [bounds.lo, bounds.hi])).map((c) => [c.seq, c]))
    let checked = 0
    // Link the first record to its predecessor when that is still kept (it may have been purged).
    const [before] = await this.#sql.query<{ seq: number, hash: string, id: string }>('SELECT seq, hash, id::text AS id FROM ndx_tx WHERE seq = $1', [bounds.lo - 1])
    let prev: { seq: number, hash: string, id: string } | null = before ?? null
    for (let lo = bounds.lo; lo <= bounds.hi; lo += 5000) {
      const rows = await this.#sql.query<Row>('SELECT * FROM ndx_tx WHERE seq >= $1 AND seq < $2 ORDER BY seq', [lo, Math.min(lo + 5000, bounds.hi + 1)])
      for (const row of rows) {
        const record = toRecord(row)
        checked++
        const linked = prev === null || (row.seq === prev.seq + 1 && row.prev_hash === prev.hash)
        const intact = chainHash(row.prev_hash, record) === row.hash
        const cp = checkpoints.get(row.seq)
        const anchored = cp === undefined || (cp.hash === row.hash && await checkpointOk(cp))
        if (!linked || !intact || !anchored) return { checked, ok: false, firstInvalid: row.id }
        checkpoints.delete(row.seq)
        prev = { seq: row.seq, hash: row.hash, id: row.id }
      }
    }
    // A checkpointed record that is no longer there, or a tail cut off after the range's last record.
    const [head] = await this.#sql.query<{ seq: number }>('SELECT seq FROM ndx_chain_head')
    if (prev !== null && (checkpoints.size > 0 || (head !== undefined && head.seq > prev.seq && (await this.#sql.query('SELECT 1 FROM ndx_tx WHERE seq = $1', [prev.seq + 1])).length === 0))) {
      return { checked, ok: false, firstInvalid: prev.id }
    }
    return { checked, ok: true, firstInvalid: null }
  }

  async checkpoints (from: Date, to: Date, limit = 1000): Promise<Array<{ seq: number, hash: string, time: string, jws: string }>> {
    const rows = await this.#sql.query<{ seq: number, hash: string, time: Date, jws: string }>('SELECT seq, hash, time, jws FROM ndx_checkpoints WHERE time >= $1 AND time < $2 ORDER BY seq LIMIT $3', [from, to, limit])
    return rows.map((r) => ({ ...r, time: new Date(r.time).toISOString() }))
  }
}

function floorHour (d: Date): Date {
  const h = new Date(d)
  h.setUTCMinutes(0, 0, 0)
  return h
}

function ceilHour (d: Date): Date {
  const h = floorHour(d)
  return h.getTime() === d.getTime() ? h : new Date(h.getTime() + 3_600_000)
}
