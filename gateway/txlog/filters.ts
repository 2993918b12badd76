/**
 * The auditor API's filters (CONTRACT §7), in one place for every call that reads the log (listings, counts,
 * export): parsing a query into a `LogFilter` a caller may use, and turning it into SQL.
 */
import { problem, type ValidationIssue } from '../../core/errors.js'
import type { Caller } from '../auth/authenticate.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import type { Outcome } from './record.js'

export interface LogFilter {
  readonly from: Date
  readonly to: Date
  readonly client?: string
  readonly service?: string
  readonly operation?: string
  readonly outcome?: Outcome
  readonly source?: string
  readonly subjectRef?: string
  readonly purpose?: string
  readonly code?: string
}

/** The query parameters that filter records (besides paging and grouping). */
export const FILTER_NAMES = [
  'from', 'to', 'client', 'service', 'operation', 'outcome', 'source', 'subject', 'purpose', 'code',
] as const

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/
const PATTERNS: Record<string, RegExp> = {
  client: /^[A-Z0-9][A-Z0-9._-]{1,63}$/,
  service: /^[a-z][a-z0-9-]{1,40}$/,
  operation: /^[a-z][a-z0-9-]*$/,
  outcome: /^(ok|not_found|denied|rejected|error)$/,
  source: /^(upstream|reuse)$/,
  subject: /^.{1,256}$/su,
  purpose: /^[a-z0-9][a-z0-9._-]{0,63}$/,
  code: /^[a-z]+(\.[a-z_]+)?$/,
}

/** Refuses a query with `request.invalid`, naming each problem. */
export function invalidQuery (errors: ValidationIssue[]): never {
  throw problem('request.invalid', 'The query does not match this call', { errors })
}

/** `from`/`to` as dates: ISO times, default the last 24 hours, `from` before `to`. */
export function timeRange (query: Record<string, string>, now = Date.now()): { from: Date, to: Date } {
  const errors: ValidationIssue[] = []
  const parse = (name: 'from' | 'to', fallback: number): Date => {
    const v = query[name]
    if (v === undefined) return new Date(fallback)
    const t = Date.parse(v)
    if (!ISO.test(v) || Number.isNaN(t)) errors.push({ in: 'query', name, reason: 'must be an ISO 8601 time' })
    return new Date(t)
  }
  const from = parse('from', now - 86_400_000)
  const to = parse('to', now)
  if (errors.length === 0 && from >= to) errors.push({ in: 'query', name: 'to', reason: 'must be after from' })
  if (errors.length > 0) invalidQuery(errors)
  return { from, to }
}

/**
 * The filter a caller may use: auditors any client, everyone else their own records only (a record with
 * `client: null`, e.g. a forged token's `claimedClient`, is no agency's). `subject` is pseudonymised.
 */
export function parseFilter (caller: Caller, query: Record<string, string>, pseudo: Pseudonymizer): LogFilter {
  const errors: ValidationIssue[] = []
  for (const [name, re] of Object.entries(PATTERNS)) {
    const v = query[name]
    if (v !== undefined && !re.test(v)) errors.push({ in: 'query', name, reason: 'has an invalid value' })
  }
  if (errors.length > 0) invalidQuery(errors)
  const own = caller.agency.spec.id
  const auditor = caller.agency.hasRole('auditor')
  if (!auditor && query.client !== undefined && query.client !== own) {
    throw problem('access.denied', 'Only auditors may read other agencies\' records')
  }
  const client = auditor ? query.client : own
  const pick = (name: 'service' | 'operation' | 'source' | 'purpose' | 'code'): Partial<LogFilter> =>
    query[name] === undefined ? {} : { [name]: query[name] }
  return {
    ...timeRange(query),
    ...(client === undefined ? {} : { client }),
    ...pick('service'),
    ...pick('operation'),
    ...(query.outcome === undefined ? {} : { outcome: query.outcome as Outcome }),
    ...pick('source'),
    ...pick('purpose'),
    ...pick('code'),
    ...(query.subject === undefined ? {} : { subjectRef: pseudo.subjectRef(query.subject) }),
  }
}

const FILTER_COLUMNS = {
  client: 'client',
  service: 'service',
  operation: 'operation',
  outcome: 'outcome',
  source: 'source',
  subjectRef: 'subject_ref',
  purpose: 'purpose',
  code: 'code',
} as const

/** Filters the hourly rollup cannot answer (it has no such column): counted from the records instead. */
export function needsRecords (f: LogFilter): boolean {
  return f.subjectRef !== undefined || f.purpose !== undefined || f.code !== undefined
}

/**
 * The WHERE clause (without the keyword) over the records table, or the hourly rollup (`timeColumn`
 * `hour`); values are appended to `params` as placeholders.
 */
export function whereClause (f: LogFilter, params: unknown[], timeColumn = 'time'): string {
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

/** The effective range of a reply (CONTRACT §7 `window`): an empty answer still says which days it covered. */
export function windowOf (f: { from: Date, to: Date }): { from: string, to: string } {
  return { from: f.from.toISOString(), to: f.to.toISOString() }
}
