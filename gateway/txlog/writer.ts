/**
 * Writing records to the log: one transaction per batch that takes the chain head, skips records already
 * written (a retried batch or a replayed spool must not create a second record), chains and inserts the
 * rest, bumps the hourly rollups and moves the head. Writers on any number of processes serialize on the
 * head row, so the chain has one order.
 *
 * A batch the database refuses is written again in halves down to single records (`writeIsolated`): a
 * record that still fails alone while the database answers is poison and is kept aside (`ndx_tx_poisoned`),
 * so it never holds the others back.
 */
import { chainHash } from './chain.js'
import { storable, type TransactionRecord } from './record.js'
import { partitionOf } from './schema.js'
import type { Sql } from './sql.js'

const COLUMNS = [
  'seq',
  'id',
  'time',
  'client',
  'key_id',
  'service',
  'operation',
  'method',
  'route',
  'purpose',
  'subject_ref',
  'on_behalf_of',
  'outcome',
  'status',
  'code',
  'source',
  'fields',
  'duration_ms',
  'upstream_ms',
  'request_bytes',
  'response_bytes',
  'claimed_client',
  'replay_guard',
  'stale',
  'prev_hash',
  'hash',
]
const COLUMN_TYPES = ['bigint', 'uuid', 'timestamptz', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text',
  'text', 'text', 'smallint', 'text', 'text', 'text', 'double precision', 'double precision', 'integer', 'integer',
  'text', 'text', 'boolean', 'text', 'text']
const UNNEST = COLUMN_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')
const INSERT_ROWS = `INSERT INTO ndx_tx (${COLUMNS.join(',')}) SELECT * FROM unnest(${UNNEST})`

function row (seq: number, r: TransactionRecord, prevHash: string, hash: string): unknown[] {
  return [
    seq,
    r.id,
    r.time,
    r.client,
    r.keyId,
    r.service,
    r.operation,
    r.method,
    r.route,
    r.purpose,
    r.subjectRef,
    r.onBehalfOf,
    r.outcome,
    r.status,
    r.code,
    r.source,
    r.fields === null ? null : JSON.stringify(r.fields),
    r.durationMs,
    r.upstreamMs,
    r.requestBytes,
    r.responseBytes,
    r.claimedClient,
    r.replayGuard,
    r.stale,
    prevHash,
    hash,
  ]
}

function placeholders (rows: number, cols: number): string {
  const out: string[] = []
  for (let i = 0; i < rows; i++) {
    out.push(`(${Array.from({ length: cols }, (_, c) => `$${i * cols + c + 1}`).join(',')})`)
  }
  return out.join(',')
}

/** What happened to a batch written with isolation. */
export interface IsolatedWrite {
  /** Records newly chained. */
  readonly written: number
  /** Records the database refused on their own, kept aside in `ndx_tx_poisoned`. */
  readonly poisoned: ReadonlyArray<{
    readonly id: string, readonly error: string, readonly kept: boolean, readonly record?: string
  }>
}

function printable (text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  return JSON.stringify(text).slice(1, -1).replace(/[\u0000-\u001f]/g, '?').slice(0, max)
}

export class LogWriter {
  readonly #sql: Sql
  readonly #partitions = new Set<string>()

  constructor (sql: Sql) {
    this.#sql = sql
  }

  /** Writes a batch durably in one transaction; resolves with how many records were new. */
  async write (records: readonly TransactionRecord[]): Promise<number> {
    if (records.length === 0) return 0
    return this.#sql.transaction(async (tx) => {
      const [head] = await tx.query<{ seq: number, hash: string }>('SELECT seq, hash FROM ndx_chain_head FOR UPDATE')
      if (head === undefined) throw new Error('transaction log head missing: schema not migrated')
      const times = records.map((r) => r.time).sort()
      const existing = new Set((await tx.query<{ id: string }>(
        'SELECT id::text AS id FROM ndx_tx WHERE time >= $1 AND time <= $2 AND id = ANY($3::uuid[])',
        [times[0], times[times.length - 1], records.map((r) => r.id)]
      )).map((r) => r.id))
      const fresh: TransactionRecord[] = []
      for (const r of records) {
        if (existing.has(r.id)) continue
        existing.add(r.id)
        fresh.push(storable(r))
      }
      if (fresh.length === 0) return 0

      for (const r of fresh) await this.#ensurePartition(tx, new Date(r.time))
      let { seq, hash } = head
      const rows: unknown[][] = []
      for (const r of fresh) {
        const next = chainHash(hash, r)
        seq += 1
        rows.push(row(seq, r, hash, next))
        hash = next
      }
      // One statement per batch whatever its size: each column travels as one array (unnest), so the
      // statement text stays the same and the server plans it cheaply.
      const columns = COLUMNS.map((_, c) => rows.map((r) => r[c]))
      await tx.query(INSERT_ROWS, columns)
      await this.#rollup(tx, fresh)
      await tx.query('UPDATE ndx_chain_head SET seq = $1, hash = $2', [seq, hash])
      return fresh.length
    })
  }

  /**
   * Writes a batch; if the database refuses it, each half again, down to the record that fails alone (a
   * poison record costs a few transactions, not one per record of its batch). A record refused on its own
   * while the database still answers is kept aside with the reason; if the database does not answer, this
   * rejects (nothing is set aside for an outage) and the batch is retried later as a whole. Order is kept.
   */
  async writeIsolated (records: readonly TransactionRecord[]): Promise<IsolatedWrite> {
    try {
      return { written: await this.write(records), poisoned: [] }
    } catch (err) {
      if (records.length === 1) return this.#alone(records[0] as TransactionRecord, err)
      await this.#sql.query('SELECT 1').catch(() => { throw err })
    }
    const mid = Math.ceil(records.length / 2)
    const first = await this.writeIsolated(records.slice(0, mid))
    const second = await this.writeIsolated(records.slice(mid))
    return { written: first.written + second.written, poisoned: [...first.poisoned, ...second.poisoned] }
  }

  /** A record the database refused: poison if the database answers, else the outage is rethrown. */
  async #alone (r: TransactionRecord, err: unknown): Promise<IsolatedWrite> {
    await this.#sql.query('SELECT 1').catch(() => { throw err })
    const error = printable(err instanceof Error ? err.message : String(err), 500)
    // The record as JSON text (escapes NUL and every character a text column could refuse), under a key
    // made printable the same way.
    const record = JSON.stringify(r)
    try {
      await this.#sql.query(
        'INSERT INTO ndx_tx_poisoned (id, record, error) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
        [printable(String(r.id), 64), record, error])
      return { written: 0, poisoned: [{ id: r.id, error, kept: true }] }
    } catch {
      // Not even kept aside (the database went away between the two statements, or refuses this table too):
      // the batch fails as a whole, so a reply waits for its record (503) and a queued job is retried,
      // rather than the record surviving only as an error line.
      throw err
    }
  }

  /** Records kept aside so far (a gauge for alerts: `ndx_txlog_poisoned_total`). */
  async poisonedCount (): Promise<number> {
    const [row] = await this.#sql.query<{ n: number }>('SELECT count(*)::int AS n FROM ndx_tx_poisoned')
    return row?.n ?? 0
  }

  async #ensurePartition (tx: Sql, time: Date): Promise<void> {
    const p = partitionOf(time)
    if (this.#partitions.has(p.name)) return
    // Runs under the head lock, so writers never race to create the same partition.
    await tx.exec(
      `CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF ndx_tx FOR VALUES FROM ('${p.from}') TO ('${p.to}')`
    )
    this.#partitions.add(p.name)
  }

  async #rollup (tx: Sql, records: readonly TransactionRecord[]): Promise<void> {
    const counts = new Map<string, { key: string[], n: number }>()
    for (const r of records) {
      const hour = new Date(r.time)
      hour.setUTCMinutes(0, 0, 0)
      const key = [hour.toISOString(), r.client ?? '', r.service ?? '', r.operation ?? '', r.outcome, r.source ?? '']
      const k = key.join('\0')
      const c = counts.get(k)
      if (c === undefined) counts.set(k, { key, n: 1 })
      else c.n++
    }
    const values = [...counts.values()]
    await tx.query(
      `INSERT INTO ndx_tx_hourly (hour, client, service, operation, outcome, source, n)
       VALUES ${placeholders(values.length, 7)}
       ON CONFLICT (hour, client, service, operation, outcome, source) DO UPDATE SET n = ndx_tx_hourly.n + EXCLUDED.n`,
      values.flatMap((v) => [...v.key, v.n])
    )
  }

  /** Drops day partitions and their rollups, inside the retention transaction `tx` (retention.ts). */
  async dropPartitions (tx: Sql, names: readonly string[], cutoffDay: string): Promise<void> {
    for (const name of names) {
      await tx.exec(`DROP TABLE IF EXISTS ${name}`)
      this.#partitions.delete(name)
    }
    await tx.query('DELETE FROM ndx_tx_hourly WHERE hour < $1', [cutoffDay])
  }
}
