/**
 * The transaction log's schema, created and migrated by the gateway itself. Records are partitioned by
 * day (retention drops whole partitions); an hourly rollup keeps counts fast however large the log grows.
 */
import type { Sql } from './sql.js'
import { GENESIS } from './chain.js'

const MIGRATIONS: ReadonlyArray<{ version: number, sql: string }> = [
  {
    version: 1,
    sql: `
CREATE TABLE ndx_tx (
  seq bigint NOT NULL,
  id uuid NOT NULL,
  time timestamptz NOT NULL,
  client text,
  key_id text,
  service text,
  operation text,
  method text NOT NULL,
  route text,
  purpose text,
  subject_ref text,
  on_behalf_of text,
  outcome text NOT NULL,
  status smallint NOT NULL,
  code text,
  source text,
  fields text,
  duration_ms double precision NOT NULL,
  upstream_ms double precision,
  request_bytes integer NOT NULL,
  response_bytes integer NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (time, seq)
) PARTITION BY RANGE (time);
CREATE INDEX ndx_tx_seq ON ndx_tx (seq);
CREATE INDEX ndx_tx_id ON ndx_tx (id);
CREATE INDEX ndx_tx_subject ON ndx_tx (subject_ref, time) WHERE subject_ref IS NOT NULL;
CREATE INDEX ndx_tx_client ON ndx_tx (client, time);
CREATE TABLE ndx_chain_head (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  seq bigint NOT NULL,
  hash text NOT NULL
);
INSERT INTO ndx_chain_head (one, seq, hash) VALUES (true, 0, '${GENESIS}');
CREATE TABLE ndx_tx_hourly (
  hour timestamptz NOT NULL,
  client text NOT NULL,
  service text NOT NULL,
  operation text NOT NULL,
  outcome text NOT NULL,
  source text NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (hour, client, service, operation, outcome, source)
);
CREATE TABLE ndx_checkpoints (
  seq bigint PRIMARY KEY,
  hash text NOT NULL,
  time timestamptz NOT NULL,
  jws text NOT NULL
);`,
  },
  {
    // v1.1: the record's new fields; checkpoints that name their key and chain to the previous one;
    // the signed trace retention leaves; records kept aside because the database refused them.
    version: 2,
    sql: `
ALTER TABLE ndx_tx ADD COLUMN claimed_client text, ADD COLUMN replay_guard text,
  ADD COLUMN stale boolean NOT NULL DEFAULT false;
ALTER TABLE ndx_checkpoints ADD COLUMN kid text, ADD COLUMN prev_seq bigint, ADD COLUMN prev_hash text;
CREATE TABLE ndx_retention (
  id bigserial PRIMARY KEY,
  time timestamptz NOT NULL,
  ranges text NOT NULL,
  kid text,
  jws text
);
CREATE TABLE ndx_tx_poisoned (
  id text PRIMARY KEY,
  time timestamptz NOT NULL DEFAULT now(),
  record text NOT NULL,
  error text NOT NULL
);`,
  },
]

/** Applies the migrations not yet applied, one instance at a time. */
export async function migrate (sql: Sql): Promise<number> {
  return sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(7461626)')
    await tx.exec('CREATE TABLE IF NOT EXISTS ndx_migrations ' +
      '(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
    const done = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM ndx_migrations')).map((r) => r.version)
    )
    let applied = 0
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue
      await tx.exec(m.sql)
      await tx.query('INSERT INTO ndx_migrations (version) VALUES ($1)', [m.version])
      applied++
    }
    return applied
  })
}

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0

/** `ndx_tx_YYYYMMDD` for the UTC day of `time`, with its bounds. */
export function partitionOf (time: Date): { name: string, from: string, to: string } {
  const day = new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate()))
  const next = new Date(day.getTime() + 86_400_000)
  const ymd = day.toISOString().slice(0, 10)
  return { name: `ndx_tx_${ymd.replace(/-/g, '')}`, from: ymd, to: next.toISOString().slice(0, 10) }
}
