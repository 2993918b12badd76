/**
 * `GET /v1/audit/export` (CONTRACT §7, v1.1): every record matching the same filters as the listing,
 * oldest first, without a limit, as NDJSON or CSV (a header row, one row per record).
 *
 * The reply is a stream pulled by the socket: a page of records is read from the log only when the
 * previous one has been taken by the client (Node's stream backpressure), so memory stays at about one
 * page whatever the size of the export, and a slow or stalled reader stops the queries rather than piling
 * records up in the gateway. The first page is read before the reply starts, so a log that does not answer
 * is still a clean `503` problem rather than a truncated `200`.
 */
import { Readable } from 'node:stream'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import type { BuiltinRoute } from '../runtime/runtime.js'
import type { BuiltinHandler } from '../pipeline/request-path.js'
import type { TransactionLog } from '../txlog/log.js'
import type { TransactionRecord } from '../txlog/record.js'
import { EXPORT_PAGE_SIZE, recordPages } from '../txlog/export-query.js'
import { FILTER_NAMES, invalidQuery, parseFilter } from '../txlog/queries.js'
import { checkNames, fromLog, requireLog } from './audit.js'

export const AUDIT_EXPORT_ROUTE: BuiltinRoute = {
  method: 'GET', path: '/audit/export', name: 'audit.export', service: 'audit', operation: 'export',
}

export const EXPORT_FORMATS = ['ndjson', 'csv'] as const
export type ExportFormat = typeof EXPORT_FORMATS[number]

/** CSV columns: every record field of CONTRACT §7, v1.1 fields included (empty where a record lacks one). */
export const CSV_COLUMNS = [
  'id', 'seq', 'time', 'client', 'claimedClient', 'keyId', 'service', 'operation', 'method', 'route', 'purpose',
  'subjectRef', 'onBehalfOf', 'outcome', 'status', 'code', 'source', 'stale', 'replayGuard', 'fields', 'durationMs',
  'upstreamMs', 'requestBytes', 'responseBytes', 'prevHash', 'hash',
] as const

const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
}

/**
 * One CSV cell (RFC 4180). A text starting with `=`, `+`, `-`, `@`, tab or CR is what spreadsheets run as a
 * formula: some values come from clients (a purpose, a claimed agency id), so such a text gets a leading
 * `'`, which makes the spreadsheet show it as text (OWASP "CSV injection").
 */
export function csvCell (value: unknown): string {
  if (value === null || value === undefined) return ''
  let text: string
  if (Array.isArray(value)) text = value.join(';')
  else if (typeof value === 'string') text = value
  else return String(value)
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

export function csvRow (record: TransactionRecord): string {
  const r = record as unknown as Record<string, unknown>
  return CSV_COLUMNS.map((c) => csvCell(r[c])).join(',') + '\r\n'
}

function formatPage (page: readonly TransactionRecord[], format: ExportFormat): string {
  let out = ''
  for (const record of page) out += format === 'csv' ? csvRow(record) : JSON.stringify(record) + '\n'
  return out
}

/** `ndx-audit-20261124T000000Z-20261125T000000Z.csv`: the window, compact. */
function fileName (from: Date, to: Date, format: ExportFormat): string {
  const compact = (d: Date): string => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
  return `ndx-audit-${compact(from)}-${compact(to)}.${format}`
}

export function auditExportHandler (
  log: TransactionLog | null, pseudonymizer: () => Pseudonymizer, pageSize = EXPORT_PAGE_SIZE
): BuiltinHandler {
  return async ({ caller, query, notes, reply }) => {
    checkNames(query, [...FILTER_NAMES, 'format'])
    const format = (query.format ?? 'ndjson') as ExportFormat
    if (!EXPORT_FORMATS.includes(format)) {
      invalidQuery([{ in: 'query', name: 'format', reason: 'must be ndjson or csv' }])
    }
    const filter = parseFilter(caller, query, pseudonymizer())
    if (query.subject !== undefined) notes.subject = query.subject
    const reader = requireLog(log).reader
    const pages = recordPages(reader, filter, pageSize)
    const first = await fromLog(() => pages.next())

    async function * body (): AsyncGenerator<string> {
      if (format === 'csv') yield CSV_COLUMNS.join(',') + '\r\n'
      if (first.done === true) return
      yield formatPage(first.value, format)
      // A log that fails from here on ends the stream with an error: the client sees a cut reply (no final
      // chunk), never a short export that looks complete.
      for await (const page of pages) yield formatPage(page, format)
    }

    reply
      .code(200)
      .header('content-type', CONTENT_TYPES[format])
      .header('content-disposition', `attachment; filename="${fileName(filter.from, filter.to, format)}"`)
    return Readable.from(body(), { objectMode: false })
  }
}
