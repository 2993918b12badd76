/**
 * The gateway's stateful services: chosen once at startup by the composition root (compose.ts), they
 * outlive configuration reloads. Each is a contract with an in-process and a shared implementation.
 */
import type { Redis } from 'ioredis'
import type { Pseudonymizer } from '../core/pseudonym.js'
import type { QuotaLimiter } from './access/quota.js'
import type { BatchService } from './batch/service.js'
import type { ReplayGuard } from './auth/replay-guard.js'
import type { RecordReader } from './reuse/reader.js'
import type { TransactionLog } from './txlog/log.js'
import type { TransactionSink } from './txlog/sink.js'

/** How the gateway keeps state, for the startup log and /health/ready. */
export interface ServiceMode {
  readonly replay: 'memory' | 'redis'
  readonly reuse: 'memory' | 'redis'
  readonly log: 'memory' | 'pglite' | 'postgres' | 'queue'
}

/** The gateway's stateful services: chosen once at startup, they outlive configuration reloads. */
export interface GatewayServices {
  readonly mode: ServiceMode
  /** The keyed pseudonyms of the log and the stores (one key: changing it would split them). */
  readonly pseudonymizer: Pseudonymizer
  readonly replayGuard: ReplayGuard
  readonly records: RecordReader
  readonly sink: TransactionSink
  /** The transaction log behind the sink, for the auditor API; null when records only go to memory. */
  readonly log: TransactionLog | null
  readonly quota: QuotaLimiter
  readonly redis: Redis | null
  /** Batch lookups (CONTRACT §10): they need the shared store, so null without Redis. */
  readonly batches: BatchService | null
  close (): Promise<void>
}
