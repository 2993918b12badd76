/**
 * Batch workers for `npm run worker`: what the gateway process gives its own workers (the configuration,
 * the reuse store, the transaction sink), assembled without a gateway. Records are written straight to the
 * database (group commit), as durable as through the queue.
 */
import { Redis } from 'ioredis'
import { RedisVerifyBudget, verifyBudgetGate } from '../access/verify-budget.js'
import type { Logger } from 'pino'
import type { GatewayConfig } from '../../core/config-types.js'
import { Pseudonymizer } from '../../core/pseudonym.js'
import { RedisRecordStore } from '../reuse/redis-store.js'
import { Runtime } from '../runtime/runtime.js'
import { reuseReader } from '../services.js'
import { DirectSink } from '../txlog/sinks.js'
import { reportPoisoned } from '../txlog/worker.js'
import type { LogWriter } from '../txlog/writer.js'
import { createBatchService } from './service.js'

export function startBatchWorkerProcess (
  redisUrl: string, config: GatewayConfig, writer: LogWriter, logger: Logger,
): { close (): Promise<void> } {
  const runtime = new Runtime(config, { builtins: [] })
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, commandTimeout: config.gateway.redis.commandTimeoutMs })
  redis.on('error', () => {})
  const records = reuseReader(config, new RedisRecordStore(redis, config.gateway.redis.keyPrefix), logger)
  const sink = new DirectSink(writer, config.gateway.log, (result) => reportPoisoned(result, logger))
  const batches = createBatchService(redisUrl, config)
  const pseudonymizer = new Pseudonymizer(config.gateway.secrets.pseudonymKey)
  const verifyBudget = verifyBudgetGate(new RedisVerifyBudget(redis, config.gateway.redis.keyPrefix), pseudonymizer)
  batches.startWorkers({ current: () => runtime, records, sink, pseudonymizer, verifyBudget, logger })
  return {
    async close () {
      await batches.close()
      await sink.close()
      await records.close()
      await runtime.close()
      redis.disconnect()
    },
  }
}
