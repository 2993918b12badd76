/**
 * OpenAPI descriptions of the built-in routes (audit, notifications, admin): their parameters and the
 * real schemas of their replies (CONTRACT §7, §2), so generated clients get types, not `{"type":"object"}`.
 * Schemas are open (no `additionalProperties: false`): later minor versions add members.
 */
import type { JsonSchema } from '../../adapters/contract.js'
import { PURGE_SCHEMA } from '../builtins/admin.js'
import { NOTIFICATION_SCHEMA } from '../builtins/notifications.js'
import { GROUP_KEYS } from '../txlog/queries.js'
import type { BuiltinRoute } from '../runtime/runtime.js'

const nullable = (type: string, extra: JsonSchema = {}): JsonSchema => ({ type: [type, 'null'], ...extra })
const TIME = { type: 'string', format: 'date-time' }

export const RECORD_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'One transaction record (CONTRACT §7): what was asked, by whom, why, and how it ended; ' +
    'never a payload or a raw subject.',
  required: ['id', 'time', 'client', 'method', 'route', 'outcome', 'status', 'durationMs', 'requestBytes',
    'responseBytes'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    seq: { type: 'integer', description: 'The record\'s place in the hash chain' },
    time: { ...TIME, description: 'When the request arrived (ms precision)' },
    client: nullable('string', { description: 'The agency that signed the request; null if it did not verify' }),
    claimedClient: nullable('string', { description: 'The iss of a token that did not verify' }),
    keyId: nullable('string'),
    service: nullable('string'),
    operation: nullable('string'),
    method: { type: 'string' },
    route: nullable('string', { description: 'The route template, never the raw path' }),
    purpose: nullable('string'),
    subjectRef: nullable('string', { description: 'Keyed HMAC of the subject' }),
    onBehalfOf: nullable('string', { description: 'Pseudonym of the token\'s sub' }),
    outcome: { enum: ['ok', 'not_found', 'denied', 'rejected', 'error'] },
    status: { type: 'integer' },
    code: nullable('string', { description: 'The problem code, for refusals and failures' }),
    source: { enum: ['upstream', 'reuse', null] },
    stale: { type: 'boolean', description: 'A kept record served past its window' },
    replayGuard: { enum: ['shared', 'local', null] },
    fields: nullable('array', { items: { type: 'string' }, description: 'Names of the fields returned' }),
    durationMs: { type: 'number' },
    upstreamMs: nullable('number'),
    requestBytes: { type: 'integer', description: 'Bytes received (measured, never declared)' },
    responseBytes: { type: 'integer' },
    prevHash: { type: 'string' },
    hash: { type: 'string' },
  },
}

const WINDOW = { type: 'object', description: 'The effective time range', properties: { from: TIME, to: TIME } }
const PAGE = (items: JsonSchema): JsonSchema => ({
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: {
    items: { type: 'array', items },
    nextCursor: nullable('string', { description: 'Pass as `cursor` for the next page; null on the last' }),
    window: WINDOW,
  },
})

const COUNTS: JsonSchema = {
  type: 'object',
  required: ['total', 'groups'],
  properties: {
    total: { type: 'integer' },
    groups: {
      type: 'array',
      items: {
        type: 'object',
        required: ['count'],
        properties: { count: { type: 'integer' } },
        additionalProperties: { type: ['string', 'integer', 'null'] },
      },
    },
    window: WINDOW,
  },
}

const INTEGRITY: JsonSchema = {
  type: 'object',
  required: ['checked', 'ok', 'firstInvalid'],
  properties: {
    checked: { type: 'integer', description: 'Records whose hashes were recomputed' },
    ok: { type: 'boolean' },
    firstInvalid: nullable('string', { description: 'The id of the first record that does not chain' }),
    problems: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          kind: { enum: ['edited', 'deleted', 'checkpoint-missing', 'checkpoint-invalid'] },
          fromSeq: { type: 'integer' },
          toSeq: { type: 'integer' },
        },
      },
    },
  },
}

const CHECKPOINT = {
  type: 'object',
  required: ['seq', 'hash'],
  properties: {
    seq: { type: 'integer' },
    hash: { type: 'string' },
    time: TIME,
    kid: { type: 'string' },
    jws: { type: 'string', description: 'Compact JWS over { seq, hash }' },
  },
}

const CHECKPOINTS: JsonSchema = {
  type: 'object',
  required: ['items'],
  properties: {
    items: { type: 'array', items: CHECKPOINT },
    nextCursor: nullable('string'),
    key: { type: ['object', 'null'], description: 'The current checkpoint public key (JWK)' },
  },
}

const INSTANCES: JsonSchema = {
  type: 'object',
  required: ['instances'],
  properties: {
    instances: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'startedAt', 'version', 'configDigest', 'lastReload'],
        properties: {
          id: { type: 'string' },
          startedAt: TIME,
          version: { type: 'string' },
          configDigest: { type: 'string' },
          lastReload: nullable('object', {
            properties: { at: TIME, result: { type: 'string', enum: ['applied', 'refused'] } },
          }),
        },
      },
    },
  },
}

const RELOAD: JsonSchema = {
  type: 'object',
  required: ['applied', 'digest', 'agencies', 'services', 'operations', 'restartRequired'],
  properties: {
    applied: { const: true },
    digest: { type: 'string', description: 'Digest of the configuration now serving' },
    agencies: { type: 'integer' },
    services: { type: 'integer' },
    operations: { type: 'integer' },
    restartRequired: {
      type: 'array',
      items: { type: 'string' },
      description: 'gateway.yaml sections that changed but apply after a restart',
    },
  },
}

type Param = Record<string, unknown>
const q = (name: string, schema: JsonSchema, description?: string): Param =>
  ({ name, in: 'query', required: false, schema, ...(description === undefined ? {} : { description }) })

const FILTERS: Param[] = [
  q('from', TIME, 'ISO time (default: 24 hours ago)'),
  q('to', TIME, 'ISO time (default: now)'),
  q('client', { type: 'string' }, 'Agency id'),
  q('service', { type: 'string' }),
  q('operation', { type: 'string' }),
  q('outcome', { enum: ['ok', 'not_found', 'denied', 'rejected', 'error'] }),
  q('source', { enum: ['upstream', 'reuse'] }),
  q('subject', { type: 'string' }, 'A raw subject value (the gateway pseudonymises it): who looked at this person'),
  q('purpose', { type: 'string' }),
  q('code', { type: 'string' }, 'Problem code'),
]
const LIMIT = q('limit', { type: 'integer', minimum: 1, maximum: 1000, default: 100 })
const CURSOR = q('cursor', { type: 'string' }, 'nextCursor of the previous page')

export interface BuiltinDescription {
  readonly summary: string
  readonly parameters?: readonly Param[]
  readonly body?: JsonSchema
  readonly status?: number
  readonly reply: JsonSchema
  /** Media types of the reply; default application/json. */
  readonly mediaTypes?: readonly string[]
}

const DESCRIPTIONS: Readonly<Record<string, BuiltinDescription>> = {
  notify: {
    summary: 'A source agency reports a changed subject; kept records of it are dropped',
    body: NOTIFICATION_SCHEMA,
    status: 202,
    reply: { type: 'object', required: ['invalidated'], properties: { invalidated: { type: 'integer' } } },
  },
  'audit.transactions': {
    summary: 'Transaction records, oldest first (auditors: all; others: their own)',
    parameters: [...FILTERS, LIMIT, CURSOR],
    reply: PAGE(RECORD_SCHEMA),
  },
  'audit.transaction': {
    summary: 'One transaction record',
    parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
    reply: RECORD_SCHEMA,
  },
  'audit.counts': {
    summary: 'Counts of transactions, grouped',
    parameters: [...FILTERS, q('groupBy', { type: 'string' }, `Comma-separated: ${GROUP_KEYS.join(', ')}`)],
    reply: COUNTS,
  },
  'audit.integrity': {
    summary: 'Recompute the hash chain and check the signed checkpoints (auditors)',
    parameters: FILTERS.slice(0, 2),
    reply: INTEGRITY,
  },
  'audit.export': {
    summary: 'Every matching record, oldest first, streamed as NDJSON (one record a line) or CSV (a header row)',
    parameters: [...FILTERS, q('format', { type: 'string', enum: ['ndjson', 'csv'], default: 'ndjson' })],
    mediaTypes: ['application/x-ndjson', 'text/csv'],
    reply: { type: 'string' },
  },
  'audit.checkpoints': {
    summary: 'Signed checkpoints of the transaction log (auditors)',
    parameters: [...FILTERS.slice(0, 2), CURSOR],
    reply: CHECKPOINTS,
  },
  'admin.reload': {
    summary: 'Reload the configuration directory (admins); a refused one changes nothing',
    reply: RELOAD,
  },
  'admin.instances': {
    summary: 'The instances sharing this platform: config digest and last reload (admins)',
    reply: INSTANCES,
  },
  'admin.purge': {
    summary: 'Drop the kept records of a service, or of one subject of it, on every instance (admins)',
    body: PURGE_SCHEMA,
    status: 202,
    reply: { type: 'object', required: ['invalidated'], properties: { invalidated: { type: 'integer' } } },
  },
}

/** How a built-in route is documented; a route added without a description still appears, as an object. */
export function describeBuiltin (route: BuiltinRoute): BuiltinDescription {
  return DESCRIPTIONS[route.name] ?? { summary: `${route.service}: ${route.operation}`, reply: { type: 'object' } }
}
