/**
 * The transaction log alone, at its limit: many producers append records through the gateway's queue
 * sink (group commit → BullMQ) while a worker drains them into PostgreSQL; then every record is counted.
 */
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { transactionId } from '../core/ids.js'
import type { TransactionRecord } from '../gateway/txlog/record.js'
import { migrate } from '../gateway/txlog/schema.js'
import { QueueSink } from '../gateway/txlog/sinks.js'
import { PgSql } from '../gateway/txlog/sql.js'
import { Spool } from '../gateway/txlog/spool.js'
import { QUEUE_NAME, startLogWorker } from '../gateway/txlog/worker.js'
import { LogWriter } from '../gateway/txlog/writer.js'
import { waitForRows } from './seed-counts.js'

export interface LogThroughput {
  readonly appended: number
  readonly appendPerSecond: number
  readonly written: number
  readonly writePerSecond: number
  readonly drainSeconds: number
  readonly lost: number
  readonly producers: number
}

export async function logThroughput (opts: {
  redisUrl: string
  databaseUrl: string
  prefix: string
  seconds: number
  dataDir: string
  producers?: number
}): Promise<LogThroughput> {
  const producers = opts.producers ?? 256
  const sql = new PgSql(opts.databaseUrl)
  await migrate(sql)
  const redis = new Redis(opts.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve))
  const bull = `${opts.prefix}bull`
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: bull, skipWaitingForReady: true })
  const sink = new QueueSink(
    () => queue,
    new Spool(opts.dataDir),
    { batchMaxRecords: 500, batchMaxWaitMs: 2 },
    { probe: () => redis.ping() }
  )
  const worker = startLogWorker(opts.redisUrl, bull, new LogWriter(sql))
  const base: Omit<TransactionRecord, 'id' | 'time'> = {
    client: 'VN.LOC.DNG',
    keyId: 'dng-2026-01',
    service: 'population',
    operation: 'citizen',
    method: 'GET',
    route: '/v1/population/citizens/{personalId}',
    purpose: 'public-service',
    subjectRef: 'X61zu7Be1234567890123456789012345678901234',
    onBehalfOf: null,
    outcome: 'ok',
    status: 200,
    code: null,
    source: 'reuse',
    fields: ['fullName', 'dateOfBirth'],
    durationMs: 1.234,
    upstreamMs: null,
    requestBytes: 0,
    responseBytes: 321,
    claimedClient: null,
    replayGuard: null,
    stale: false,
  }
  let appended = 0
  let stop = false
  const t0 = performance.now()
  const timer = setTimeout(() => {
    stop = true
  }, opts.seconds * 1000)
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (!stop) {
        await sink.append({ ...base, id: transactionId(), time: new Date().toISOString() })
        appended++
      }
    })
  )
  clearTimeout(timer)
  const appendSeconds = (performance.now() - t0) / 1000
  const written = await waitForRows(sql, appended, (opts.seconds + 120) * 1000 - (performance.now() - t0))
  const drainSeconds = (performance.now() - t0) / 1000
  await sink.close()
  await worker.close()
  await queue.obliterate({ force: true }).catch(() => {})
  await queue.close()
  redis.disconnect()
  await sql.close()
  return {
    appended,
    appendPerSecond: appended / appendSeconds,
    written,
    writePerSecond: written / drainSeconds,
    drainSeconds,
    lost: appended - written,
    producers,
  }
}
