/**
 * What a reload changes, and what it cannot: settings read once at startup (secrets, limits, Redis, log,
 * reuse) take effect only after a restart, and the reload says which of them differ.
 */
import type { GatewayConfig } from '../../core/config-types.js'

export interface ReloadResult {
  readonly applied: true
  readonly digest: string
  readonly agencies: number
  readonly services: number
  readonly operations: number
  /** gateway.yaml sections that changed but apply only after a restart. */
  readonly restartRequired: string[]
}

const STARTUP_ONLY = ['secrets', 'limits', 'redis', 'log', 'reuse'] as const

export function describeReload (before: GatewayConfig, after: GatewayConfig): ReloadResult {
  return {
    applied: true,
    digest: after.digest,
    agencies: Object.keys(after.agencies).length,
    services: Object.keys(after.services).length,
    operations: Object.values(after.services).reduce((n, s) => n + Object.keys(s.operations).length, 0),
    restartRequired: STARTUP_ONLY.filter(
      (k) => JSON.stringify(before.gateway[k]) !== JSON.stringify(after.gateway[k])
    ).map((k) => `gateway.${k}`),
  }
}
