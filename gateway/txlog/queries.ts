/**
 * Reading the log for auditors (CONTRACT §7): filtered, cursor-paged listings oldest first, one record by
 * id, counts grouped by any of client/service/operation/outcome/source/purpose/code/day/hour (from the
 * hourly rollup for whole hours, from records only for the partial hours at the edges and for what the
 * rollup does not hold), and the checkpoints, paged. The integrity check is in integrity.ts.
 */
import { kidOf } from './checkpoints.js'
import { needsRecords, whereClause, type LogFilter } from './filters.js'
import type { TransactionRecord } from './record.js'
import { recordOfRow, type Row } from './rows.js'
import type { Sql } from './sql.js'

export { recordOfRow, type Row } from './rows.js'
export { FILTER_NAMES, invalidQuery, parseFilter, timeRange, whereClause, windowOf, type LogFilter } from './filters.js'

export const GROUP_KEYS = [
  'client', 'service', 'operation', 'outcome', 'source', 'purpose', 'code', 'day', 'hour',
] as const
export type GroupKey = typeof GROUP_KEYS[number]
/** Group keys the hourly rollup does not hold: counted from the records. */
const RECORD_ONLY_KEYS: ReadonlySet<GroupKey> = new Set(['purpose', 'code'])

export interface Counts {
  total: number
  groups: Array<Record<string, string | number | null>>
}

function groupExpr (key: GroupKey, rollup: boolean): string {
  const time = rollup ? 'hour' : 'time'
  switch (key) {
    case 'day': return `to_char(${time} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
    case 'hour': return `to_char(date_trunc('hour', ${time} AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00:00.000"Z"')`
    default: return rollup ? `NULLIF(${key}, '')` : key
  }
}

/** Cursor values a database column holds: anything else is a cursor this API never gave. */
const MAX_CURSOR_TIME = Date.UTC(9999, 11, 31)

export function encodeCursor (time: string, seq: number): string {
  return Buffer.from(JSON.stringify([time, seq])).toString('base64url')
}

function validSeq (seq: unknown): seq is number {
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0
}

export function decodeCursor (cursor: string): { time: string, seq: number } | null {
  try {
    const [time, seq] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown]
    if (typeof time !== 'string' || !validSeq(seq)) return null
    const t = Date.parse(time)
    if (Number.isNaN(t) || t < 0 || t > MAX_CURSOR_TIME) return null
    return { time: new Date(t).toISOString(), seq }
  } catch {
    return null
  }
}

export function encodeSeqCursor (seq: number): string {
  return Buffer.from(JSON.stringify([seq])).toString('base64url')
}

export function decodeSeqCursor (cursor: string): number | null {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
    const seq = Array.isArray(parsed) && parsed.length === 1 ? parsed[0] as unknown : undefined
    return validSeq(seq) ? seq : null
  } catch {
    return null
  }
}

export interface CheckpointItem { seq: number, hash: string, time: string, kid: string | null, jws: string }

export class LogReader {
  readonly #sql: Sql

  constructor (sql: Sql) {
    this.#sql = sql
  }

  async list (
    filter: LogFilter,
    limit: number,
    cursor: { time: string; seq: number } | null
  ): Promise<{ items: TransactionRecord[]; nextCursor: string | null }> {
    const params: unknown[] = []
    let clause = whereClause(filter, params)
    if (cursor !== null) {
      params.push(cursor.time, cursor.seq)
      clause += ` AND (time, seq) > ($${params.length - 1}::timestamptz, $${params.length}::bigint)`
    }
    params.push(limit + 1)
    const rows = await this.#sql.query<Row>(
      `SELECT * FROM ndx_tx WHERE ${clause} ORDER BY time, seq LIMIT $${params.length}`,
      params
    )
    const page = rows.slice(0, limit)
    const last = page[page.length - 1]
    return {
      items: page.map(recordOfRow),
      nextCursor:
        rows.length > limit && last !== undefined
          ? encodeCursor(new Date(last.time).toISOString(), Number(last.seq))
          : null,
    }
  }

  /** One record; the id's own timestamp (UUIDv7) narrows the search to a few partitions. */
  async get (id: string): Promise<TransactionRecord | null> {
    const ms = Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)
    const rows =
      Number.isFinite(ms) && id[14] === '7'
        ? await this.#sql.query<Row>('SELECT * FROM ndx_tx WHERE id = $1 AND time >= $2 AND time <= $3', [
          id,
          new Date(ms - 86_400_000),
          new Date(ms + 86_400_000),
        ])
        : await this.#sql.query<Row>('SELECT * FROM ndx_tx WHERE id = $1', [id])
    return rows[0] === undefined ? null : recordOfRow(rows[0])
  }

  async counts (filter: LogFilter, groupBy: readonly GroupKey[]): Promise<Counts> {
    const whole = { from: ceilHour(filter.from), to: floorHour(filter.to) }
    const parts: Array<Promise<Array<Record<string, unknown>>>> = []
    // What the rollup does not hold (subject, purpose, code): count the records themselves.
    if (needsRecords(filter) || groupBy.some((k) => RECORD_ONLY_KEYS.has(k)) || whole.from >= whole.to) {
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
    const groups =
      groupBy.length === 0
        ? []
        : [...merged.values()].sort((a, b) =>
            JSON.stringify(groupBy.map((k) => a[k])).localeCompare(JSON.stringify(groupBy.map((k) => b[k])))
          )
    return { total, groups }
  }

  #countRows (f: LogFilter, groupBy: readonly GroupKey[], rollup: boolean): Promise<Array<Record<string, unknown>>> {
    const params: unknown[] = []
    const clause = whereClause(f, params, rollup ? 'hour' : 'time')
    const select = groupBy.map((k) => `${groupExpr(k, rollup)} AS "${k}"`)
    const count = rollup ? 'sum(n)::bigint' : 'count(*)::bigint'
    const group = groupBy.length === 0 ? '' : ` GROUP BY ${groupBy.map((_, i) => i + 1).join(', ')}`
    return this.#sql.query(
      `SELECT ${[...select, `${count} AS n`].join(', ')} FROM ${rollup ? 'ndx_tx_hourly' : 'ndx_tx'} ` +
        `WHERE ${clause}${group}`,
      params
    )
  }

  /** Checkpoints signed in [from, to), by seq, paged with a cursor. */
  async checkpoints (
    from: Date,
    to: Date,
    limit = 100,
    after: number | null = null
  ): Promise<{ items: CheckpointItem[]; nextCursor: string | null }> {
    const rows = await this.#sql.query<{ seq: number; hash: string; time: Date; kid: string | null; jws: string }>(
      `SELECT seq, hash, time, kid, jws FROM ndx_checkpoints
       WHERE time >= $1 AND time < $2 AND seq > $3 ORDER BY seq LIMIT $4`,
      [from, to, after ?? -1, limit + 1]
    )
    const page = rows.slice(0, limit).map((r) => ({
      seq: Number(r.seq),
      hash: r.hash,
      time: new Date(r.time).toISOString(),
      kid: r.kid ?? kidOf(r.jws),
      jws: r.jws,
    }))
    const last = page[page.length - 1]
    return { items: page, nextCursor: rows.length > limit && last !== undefined ? encodeSeqCursor(last.seq) : null }
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
