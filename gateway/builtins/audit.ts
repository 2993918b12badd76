/**
 * The auditor API (CONTRACT §7), served as service `audit`: listings, one record, counts and integrity.
 * Role auditor sees every record; any other agency sees only its own. A `subject` is pseudonymised with
 * the same keyed HMAC as the log, answering "who looked at this person" without the log holding the id.
 */
import { GatewayError, problem, type ValidationIssue } from '../errors.js'
import type { Caller } from '../auth/authenticate.js'
import type { Pseudonymizer } from '../pseudonym.js'
import type { BuiltinRoute } from '../runtime.js'
import type { BuiltinHandler } from '../pipeline/request-path.js'
import type { TransactionLog } from '../txlog/log.js'
import { decodeCursor, GROUP_KEYS, type GroupKey, type LogFilter } from '../txlog/queries.js'

export const AUDIT_ROUTES: readonly BuiltinRoute[] = [
  { method: 'GET', path: '/audit/transactions', name: 'audit.transactions', service: 'audit', operation: 'transactions' },
  { method: 'GET', path: '/audit/transactions/{id}', name: 'audit.transaction', service: 'audit', operation: 'transaction' },
  { method: 'GET', path: '/audit/counts', name: 'audit.counts', service: 'audit', operation: 'counts' },
  { method: 'GET', path: '/audit/integrity', name: 'audit.integrity', service: 'audit', operation: 'integrity' },
  { method: 'GET', path: '/audit/checkpoints', name: 'audit.checkpoints', service: 'audit', operation: 'checkpoints' },
]

export const FILTERS = ['from', 'to', 'client', 'service', 'operation', 'outcome', 'source', 'subject']
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/
const PATTERNS: Record<string, RegExp> = {
  client: /^[A-Z0-9][A-Z0-9._-]{1,63}$/,
  service: /^[a-z][a-z0-9-]{1,40}$/,
  operation: /^[a-z][a-z0-9-]*$/,
  outcome: /^(ok|not_found|denied|rejected|error)$/,
  source: /^(upstream|reuse)$/,
  subject: /^.{1,256}$/su,
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export function invalid (errors: ValidationIssue[]): never {
  throw problem('request.invalid', 'The query does not match this call', { errors })
}

export function checkNames (query: Record<string, string>, allowed: readonly string[]): void {
  const unknown = Object.keys(query).filter((k) => !allowed.includes(k))
  if (unknown.length > 0) invalid(unknown.map((name) => ({ in: 'query', name, reason: 'is not a parameter of this call' })))
}

function timeRange (query: Record<string, string>, now = Date.now()): { from: Date, to: Date } {
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
  if (errors.length > 0) invalid(errors)
  return { from, to }
}

/** The filter a caller may use: auditors any, everyone else their own records only. */
export function filterFor (caller: Caller, query: Record<string, string>, pseudo: Pseudonymizer): LogFilter {
  const errors: ValidationIssue[] = []
  for (const [name, re] of Object.entries(PATTERNS)) {
    const v = query[name]
    if (v !== undefined && !re.test(v)) errors.push({ in: 'query', name, reason: 'has an invalid value' })
  }
  if (errors.length > 0) invalid(errors)
  const own = caller.agency.spec.id
  const auditor = caller.agency.hasRole('auditor')
  if (!auditor && query.client !== undefined && query.client !== own) throw problem('access.denied', 'Only auditors may read other agencies\' records')
  const client = auditor ? query.client : own
  return {
    ...timeRange(query),
    ...(client === undefined ? {} : { client }),
    ...(query.service === undefined ? {} : { service: query.service }),
    ...(query.operation === undefined ? {} : { operation: query.operation }),
    ...(query.outcome === undefined ? {} : { outcome: query.outcome as LogFilter['outcome'] & string }),
    ...(query.source === undefined ? {} : { source: query.source }),
    ...(query.subject === undefined ? {} : { subjectRef: pseudo.subjectRef(query.subject) }),
  }
}

export function requireLog (log: TransactionLog | null): TransactionLog {
  if (log === null) throw problem('gateway.unavailable', 'The transaction log is not available on this gateway')
  return log
}

/** A database that does not answer is the log being unavailable, not a bug. */
export async function fromLog<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw problem('gateway.unavailable', 'The transaction log database is not answering; try again shortly', { cause: err })
  }
}

export function auditHandlers (log: TransactionLog | null, pseudonymizer: () => Pseudonymizer): Record<string, BuiltinHandler> {
  return {
    'audit.transactions': async ({ caller, query, txn }) => {
      checkNames(query, [...FILTERS, 'limit', 'cursor'])
      const filter = filterFor(caller, query, pseudonymizer())
      if (query.subject !== undefined) txn.subject = query.subject
      const limit = query.limit === undefined ? 100 : Number(query.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000 || !/^\d+$/.test(query.limit ?? '100')) invalid([{ in: 'query', name: 'limit', reason: 'must be an integer from 1 to 1000' }])
      const cursor = query.cursor === undefined ? null : decodeCursor(query.cursor)
      if (query.cursor !== undefined && cursor === null) invalid([{ in: 'query', name: 'cursor', reason: 'is not a cursor this API gave' }])
      return fromLog(() => requireLog(log).reader.list(filter, limit, cursor))
    },
    'audit.transaction': async ({ caller, params, query }) => {
      checkNames(query, [])
      const id = params.id ?? ''
      if (!UUID.test(id)) invalid([{ in: 'path', name: 'id', reason: 'must be a transaction id' }])
      const record = await fromLog(() => requireLog(log).reader.get(id))
      // Another agency's record is "not found" to a non-auditor: its existence is not theirs to know.
      if (record === null || (!caller.agency.hasRole('auditor') && record.client !== caller.agency.spec.id)) {
        throw problem('record.not_found', 'No such transaction')
      }
      return record
    },
    'audit.counts': async ({ caller, query, txn }) => {
      checkNames(query, [...FILTERS, 'groupBy'])
      const filter = filterFor(caller, query, pseudonymizer())
      if (query.subject !== undefined) txn.subject = query.subject
      const groupBy = query.groupBy === undefined || query.groupBy === '' ? [] : query.groupBy.split(',')
      const bad = groupBy.filter((g, i) => !GROUP_KEYS.includes(g as GroupKey) || groupBy.indexOf(g) !== i)
      if (bad.length > 0) invalid([{ in: 'query', name: 'groupBy', reason: `takes distinct names of ${GROUP_KEYS.join(', ')}` }])
      return fromLog(() => requireLog(log).reader.counts(filter, groupBy as GroupKey[]))
    },
    'audit.integrity': async ({ caller, query }) => {
      if (!caller.agency.hasRole('auditor')) throw problem('access.role', 'Integrity checks need the auditor role')
      checkNames(query, ['from', 'to'])
      const { from, to } = timeRange(query)
      const l = requireLog(log)
      const cp = l.checkpointer
      return fromLog(() => l.reader.integrity(from, to, async (c) => cp === null ? true : cp.verify(c.jws, c.seq, c.hash)))
    },
    'audit.checkpoints': async ({ caller, query }) => {
      if (!caller.agency.hasRole('auditor')) throw problem('access.role', 'Checkpoints are for auditors')
      checkNames(query, ['from', 'to'])
      const { from, to } = timeRange(query)
      const l = requireLog(log)
      return { key: l.checkpointer?.publicJwk ?? null, items: await fromLog(() => l.reader.checkpoints(from, to)) }
    },
  }
}
