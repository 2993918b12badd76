/**
 * Real PostgreSQL for tests: a fresh database per test (dropped afterwards), on the server at
 * TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { Test } from 'tap'
import { PgliteSql, PgSql, type Sql } from '../../gateway/txlog/sql.js'
import { migrate } from '../../gateway/txlog/schema.js'

export const PG_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export async function freshDatabase (t: Test): Promise<string> {
  const name = `ndx_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
    await c.end()
  })
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/** A migrated database of either kind, closed at teardown. */
export async function logDatabase (t: Test, kind: 'postgres' | 'pglite'): Promise<Sql> {
  let sql: Sql
  if (kind === 'postgres') {
    sql = new PgSql(await freshDatabase(t))
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'ndx-pglite-'))
    sql = await PgliteSql.open(dir)
    t.teardown(() => rm(dir, { recursive: true, force: true }))
  }
  t.teardown(() => sql.close())
  await migrate(sql)
  return sql
}
