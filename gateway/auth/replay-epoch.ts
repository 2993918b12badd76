/**
 * Did Redis forget the jtis it held? A Redis run without persistence comes back empty after a restart, and
 * until every token accepted before could no longer be accepted, the shared guard cannot vouch for a jti.
 *
 * The guard keeps a marker key (no expiry) next to its jtis. Its value names a generation of Redis's memory:
 * `<created ms>:<random>:<new|lost>`. An instance that knew a generation and finds another (or none) has
 * seen Redis lose its state; it writes the new marker as `lost`, so instances that start afterwards (without
 * a generation of their own) still learn when the loss happened.
 */
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'

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
