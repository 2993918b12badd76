/**
 * Readiness (CONTRACT §8): what `/health/ready` reports — 503 with the reasons while Redis, the log
 * database or the log queue is down, so a load balancer sends traffic elsewhere meanwhile.
 */
import type { Redis } from 'ioredis'
import type { TransactionLog } from '../txlog/log.js'

export interface Readiness {
  readonly ready: boolean
  readonly reason: string | null
  readonly checks: Record<string, string>
}

export interface ReadinessSources {
  readonly redis: Redis | null
  readonly log: TransactionLog | null
  readonly configDigest: () => string
}

export async function readiness (sources: ReadinessSources): Promise<Readiness> {
  const checks: Record<string, string> = { config: `ok (${sources.configDigest()})` }
  const reasons: string[] = []
  const { redis, log } = sources
  if (redis !== null) {
    const up = redis.status === 'ready'
    checks.redis = up ? 'ok' : `down (${redis.status})`
    if (!up) {
      reasons.push(
        'redis is not answering: reuse and replay memory are local to this instance, log records spool to disk'
      )
    }
  } else {
    checks.redis = 'not used (standalone)'
  }
  if (log !== null) {
    const problem = await log.problem()
    checks.log = problem ?? `ok (${log.mode})`
    if (problem !== null) reasons.push(problem)
  } else {
    checks.log = 'in memory'
  }
  return { ready: reasons.length === 0, reason: reasons.length === 0 ? null : reasons.join('; '), checks }
}
