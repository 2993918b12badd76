/**
 * Reading every record that matches a filter, oldest first, a page at a time (CONTRACT §7 export).
 *
 * Each page is its own keyset query on the primary key `(time, seq)` — the same query the paged listing
 * runs — so an export of 10 M records holds one page in memory at a time, holds no database connection or
 * snapshot between pages (nothing long-running for vacuum or the writers to wait on), and costs the same
 * per page at the end of the range as at its start (no OFFSET).
 */
import type { TransactionRecord } from './record.js'
import { decodeCursor, type LogFilter, type LogReader } from './queries.js'

/** Records per query: ~0.6 MB of NDJSON, large enough that per-query cost vanishes, small enough to hold. */
export const EXPORT_PAGE_SIZE = 1000

/**
 * The pages of records matching `filter`. The generator reads the next page only when asked for it, so a
 * consumer that stops asking (a slow reader behind backpressure) stops the queries too.
 */
export async function * recordPages (
  reader: Pick<LogReader, 'list'>, filter: LogFilter, pageSize = EXPORT_PAGE_SIZE
): AsyncGenerator<TransactionRecord[], void, undefined> {
  let cursor: { time: string, seq: number } | null = null
  for (;;) {
    const page = await reader.list(filter, pageSize, cursor)
    if (page.items.length > 0) yield page.items
    if (page.nextCursor === null) return
    cursor = decodeCursor(page.nextCursor)
    // The cursor is ours; one that does not decode would restart the export from the beginning, forever.
    if (cursor === null) throw new Error('export: the log reader returned an unreadable cursor')
  }
}
