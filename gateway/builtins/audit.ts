/**
 * The auditor API (CONTRACT §7), served as service `audit`: listings, one record, counts, integrity,
 * checkpoints and the checkpoint keys. Role auditor sees every record; any other agency sees only its own.
 * A `subject` is pseudonymised with the same keyed HMAC as the log, answering "who looked at this person"
 * without the log holding the id.
 */
import { GatewayError, problem } from '../../core/errors.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import type { BuiltinRoute } from '../runtime/runtime.js'
import type { BuiltinHandler } from '../pipeline/request-path.js'
import { checkIntegrity } from '../txlog/integrity.js'
import type { TransactionLog } from '../txlog/log.js'
import {
  decodeCursor,
  decodeSeqCursor,
  FILTER_NAMES,
  GROUP_KEYS,
  invalidQuery,
  parseFilter,
  timeRange,
  windowOf,
  type GroupKey,
} from '../txlog/queries.js'

export const AUDIT_ROUTES: readonly BuiltinRoute[] = [
  {
    method: 'GET',
    path: '/audit/transactions',
    name: 'audit.transactions',
    service: 'audit',
    operation: 'transactions',
  },
  {
    method: 'GET',
    path: '/audit/transactions/{id}',
    name: 'audit.transaction',
    service: 'audit',
    operation: 'transaction',
  },
  { method: 'GET', path: '/audit/counts', name: 'audit.counts', service: 'audit', operation: 'counts' },
  {
    method: 'GET',
    path: '/audit/integrity',
    name: 'audit.integrity',
    service: 'audit',
    operation: 'integrity',
    role: 'auditor',
  },
  {
    method: 'GET',
    path: '/audit/checkpoints',
    name: 'audit.checkpoints',
    service: 'audit',
    operation: 'checkpoints',
    role: 'auditor',
  },
  { method: 'GET', path: '/audit/keys', name: 'audit.keys', service: 'audit', operation: 'keys' },
]

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export function checkNames (query: Record<string, string>, allowed: readonly string[]): void {
  const unknown = Object.keys(query).filter((k) => !allowed.includes(k))
  if (unknown.length === 0) return
  invalidQuery(unknown.map((name) => ({ in: 'query', name, reason: 'is not a parameter of this call' })))
}

function limitOf (query: Record<string, string>, fallback: number): number {
  const text = query.limit ?? String(fallback)
  const limit = Number(text)
  if (!/^\d+$/.test(text) || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
    invalidQuery([{ in: 'query', name: 'limit', reason: 'must be an integer from 1 to 1000' }])
  }
  return limit
}

function badCursor (): never {
  return invalidQuery([{ in: 'query', name: 'cursor', reason: 'is not a cursor this API gave' }])
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
    throw problem('gateway.unavailable', 'The transaction log database is not answering; try again shortly', {
      cause: err,
    })
  }
}

export function auditHandlers (
  log: TransactionLog | null,
  pseudonymizer: () => Pseudonymizer
): Record<string, BuiltinHandler> {
  return {
    'audit.transactions': async ({ caller, query, notes }) => {
      checkNames(query, [...FILTER_NAMES, 'limit', 'cursor'])
      const filter = parseFilter(caller, query, pseudonymizer())
      if (query.subject !== undefined) notes.subject = query.subject
      const limit = limitOf(query, 100)
      const cursor = query.cursor === undefined ? null : (decodeCursor(query.cursor) ?? badCursor())
      const page = await fromLog(() => requireLog(log).reader.list(filter, limit, cursor))
      return { ...page, window: windowOf(filter) }
    },
    'audit.transaction': async ({ caller, params, query }) => {
      checkNames(query, [])
      const id = params.id ?? ''
      if (!UUID.test(id)) invalidQuery([{ in: 'path', name: 'id', reason: 'must be a transaction id' }])
      const record = await fromLog(() => requireLog(log).reader.get(id))
      // Another agency's record is "not found" to a non-auditor: its existence is not theirs to know.
      if (record === null || (!caller.agency.hasRole('auditor') && record.client !== caller.agency.spec.id)) {
        throw problem('record.not_found', 'No such transaction')
      }
      return record
    },
    'audit.counts': async ({ caller, query, notes }) => {
      checkNames(query, [...FILTER_NAMES, 'groupBy'])
      const filter = parseFilter(caller, query, pseudonymizer())
      if (query.subject !== undefined) notes.subject = query.subject
      const groupBy = query.groupBy === undefined || query.groupBy === '' ? [] : query.groupBy.split(',')
      const bad = groupBy.filter((g, i) => !GROUP_KEYS.includes(g as GroupKey) || groupBy.indexOf(g) !== i)
      if (bad.length > 0) {
        invalidQuery([{ in: 'query', name: 'groupBy', reason: `takes distinct names of ${GROUP_KEYS.join(', ')}` }])
      }
      const counts = await fromLog(() => requireLog(log).reader.counts(filter, groupBy as GroupKey[]))
      return { ...counts, window: windowOf(filter) }
    },
    'audit.integrity': async ({ query }) => {
      checkNames(query, ['from', 'to'])
      const { from, to } = timeRange(query)
      const l = requireLog(log)
      const opts = { keys: l.keys, checkpointEverySeconds: l.checkpointEverySeconds }
      return fromLog(() => checkIntegrity(l.sql, from, to, opts))
    },
    'audit.checkpoints': async ({ query }) => {
      checkNames(query, ['from', 'to', 'limit', 'cursor'])
      const { from, to } = timeRange(query)
      const limit = limitOf(query, 100)
      const after = query.cursor === undefined ? null : (decodeSeqCursor(query.cursor) ?? badCursor())
      const l = requireLog(log)
      const page = await fromLog(() => l.reader.checkpoints(from, to, limit, after))
      return { key: l.checkpointer?.publicJwk ?? null, ...page, window: windowOf({ from, to }) }
    },
    'audit.keys': async ({ query }) => {
      checkNames(query, [])
      // Public keys: any identified agency may verify checkpoints offline.
      return requireLog(log).keys?.jwks() ?? { keys: [] }
    },
  }
}
