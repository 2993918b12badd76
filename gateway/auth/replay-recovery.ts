/**
 * Did Redis forget the jtis it held? A Redis run without persistence comes back empty after a restart, and
 * until every token accepted before could no longer be accepted, the shared guard cannot vouch for a jti.
 *
 * The guard keeps a marker key (no expiry) next to its jtis. Its value names a generation of Redis's memory:
 * `<created ms>:<random>:<new|lost>`. An instance that knew a generation and finds another (or none) has
 * seen Redis lose its state; it writes the new marker as `lost`, so instances that start afterwards (without
 * a generation of their own) still learn when the loss happened. Then each instance writes back to Redis
 * what it remembers (its local memory, and the jtis it journalled while guarding alone).
 */
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'

/** Pairs written per pipeline (one round trip each). */
const WRITE_CHUNK = 1000

/** What a Redis guard keeps under DATA_DIR: the jtis it guarded alone, and the Redis generation it saw last. */
/** Where an in-process guard writes what it remembers, so a restart reads it back. */
export interface ReplayJournal {
  /** Writes one entry before the verdict is given (throws if it cannot). */
  add (key: string, until: number): void
  /** Called after each sweep with the live entries: the journal may rewrite itself from them. */
  compact (live: ReadonlyMap<string, number>): void
  close (): void
}

export interface RedisGuardDisk {
  readonly journal: ReplayJournal
  /** Pairs journalled by an earlier run, still to be remembered: key → until (ms). */
  readonly entries: ReadonlyMap<string, number>
  readonly epoch: string | null
  saveEpoch (epoch: string): void
}

export interface EpochObservation {
  /** The generation now in Redis: remember it (in memory and under DATA_DIR). */
  readonly epoch: string
  /** True when this instance saw the generation change: what it remembers must be written back. */
  readonly changed: boolean
  /** When Redis lost its state (ms), if a loss is known; null when none is. */
  readonly lostAt: number | null
}

/** Reads (creating if missing) the marker; `known` is the generation this instance saw last, if any. */
export async function observeEpoch (redis: Redis, key: string, known: string | null,
  now = Date.now()): Promise<EpochObservation> {
  const mine = `${now}:${randomUUID()}:${known === null ? 'new' : 'lost'}`
  await redis.set(key, mine, 'NX')
  const epoch = (await redis.get(key)) ?? mine
  if (known !== null && epoch !== known) return { epoch, changed: true, lostAt: now }
  const [at, , kind] = epoch.split(':')
  const created = Number(at)
  return { epoch, changed: false, lostAt: kind === 'lost' && Number.isFinite(created) ? created : null }
}

/**
 * SET NX, with the remaining time, each pair (`iss\0jti` → until ms) under `prefix` (`<keyPrefix>jti:`).
 * Rejects with the pairs not written.
 */
export async function writePairs (redis: Redis, prefix: string, entries: Array<[string, number]>): Promise<void> {
  const failed: Array<[string, number]> = []
  for (let i = 0; i < entries.length; i += WRITE_CHUNK) {
    const now = Date.now()
    const chunk = entries.slice(i, i + WRITE_CHUNK).filter(([, until]) => until > now)
    const pipe = redis.pipeline()
    for (const [key, until] of chunk) {
      const at = key.indexOf('\0')
      pipe.set(`${prefix}${key.slice(0, at)}:${key.slice(at + 1)}`, '1', 'PX', until - now, 'NX')
    }
    const results = await pipe.exec().catch(() => null)
    chunk.forEach((e, j) => { if (results === null || results[j]?.[0] != null) failed.push(e) })
    if (results === null) {
      failed.push(...entries.slice(i + WRITE_CHUNK))
      break
    }
  }
  if (failed.length > 0) throw failed
}
