/**
 * The little SQL interface the transaction log needs, over PostgreSQL (pg) or embedded PostgreSQL (PGlite):
 * the same statements run on both.
 */
import { mkdir } from 'node:fs/promises'
import pg from 'pg'

export interface Sql {
  query<T = Record<string, unknown>> (text: string, params?: unknown[]): Promise<T[]>
  /** Runs `fn` in one transaction; rolls back if it throws. */
  transaction<T> (fn: (tx: Sql) => Promise<T>): Promise<T>
  /** Several statements at once, no parameters (migrations). */
  exec (text: string): Promise<void>
  close (): Promise<void>
  readonly kind: 'postgres' | 'pglite'
}

// int8 (counts, sequence numbers) as JavaScript numbers: the log stays far below 2^53 records.
pg.types.setTypeParser(20, (v: string) => Number(v))

export class PgSql implements Sql {
  readonly kind = 'postgres' as const
  readonly pool: pg.Pool

  constructor (url: string, max = 10) {
    this.pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 3000, idleTimeoutMillis: 30_000 })
    this.pool.on('error', () => { /* a broken idle client; the next query reconnects */ })
  }

  async query<T> (text: string, params?: unknown[]): Promise<T[]> {
    return (await this.pool.query(text, params)).rows as T[]
  }

  async transaction<T> (fn: (tx: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    // A connection lost mid-transaction is reported on the client too: without a listener that event would
    // crash the process; the query in flight rejects with the same error.
    const lost = (): void => {}
    client.on('error', lost)
    const tx: Sql = {
      kind: 'postgres',
      query: async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[],
      transaction: (inner) => inner(tx),
      exec: async (text) => { await client.query(text) },
      close: async () => {},
    }
    try {
      await client.query('BEGIN')
      const result = await fn(tx)
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.removeListener('error', lost)
      client.release()
    }
  }

  async exec (text: string): Promise<void> {
    await this.pool.query(text)
  }

  async close (): Promise<void> {
    await this.pool.end()
  }
}

interface PgliteLike {
  query<T>(text: string, params?: unknown[]): Promise<{ rows: T[] }>
  exec(text: string): Promise<unknown>
  transaction<T>(
    fn: (tx: {
      query<R>(text: string, params?: unknown[]): Promise<{ rows: R[] }>
      exec(text: string): Promise<unknown>
    }) => Promise<T>,
  ): Promise<T>
  close(): Promise<void>
}

export class PgliteSql implements Sql {
  readonly kind = 'pglite' as const
  readonly #db: PgliteLike

  private constructor (db: PgliteLike) {
    this.#db = db
  }

  /** Opens (creating on first use) the embedded database in `dir`. */
  static async open (dir: string): Promise<PgliteSql> {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const { PGlite } = await import('@electric-sql/pglite')
    return new PgliteSql(await PGlite.create(dir) as unknown as PgliteLike)
  }

  async query<T> (text: string, params?: unknown[]): Promise<T[]> {
    return (await this.#db.query<T>(text, params)).rows
  }

  async transaction<T> (fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.#db.transaction(async (t) => {
      const tx: Sql = {
        kind: 'pglite',
        query: async <R>(text: string, params?: unknown[]) => (await t.query<R>(text, params)).rows,
        transaction: (inner) => inner(tx),
        exec: async (text) => { await t.exec(text) },
        close: async () => {},
      }
      return fn(tx)
    })
  }

  async exec (text: string): Promise<void> {
    await this.#db.exec(text)
  }

  async close (): Promise<void> {
    await this.#db.close()
  }
}
