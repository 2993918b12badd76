/**
 * The simulators' environment (CONTRACT §9): ports, latency, failure rate and the API keys they expect.
 * Read apart from the gateway's own (gateway/config/env.ts): the simulators stand in for other systems.
 */

function port (value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new Error(`${name} must be a port number, got ${JSON.stringify(value)}`)
  }
  return n
}

export interface SimulatorEnvironment {
  readonly host: string
  readonly latencyMs: number
  readonly failRate: number
  readonly ports: { population: number, civilStatus: number, businessRegistry: number }
  readonly keys: { population?: string, civilStatus?: string, businessRegistry?: string }
}

export function readSimulatorEnvironment (env: NodeJS.ProcessEnv = process.env): SimulatorEnvironment {
  const latencyMs = Number(env.SIM_LATENCY_MS ?? 0)
  const failRate = Number(env.SIM_FAIL_RATE ?? 0)
  if (!Number.isFinite(latencyMs) || latencyMs < 0) throw new Error('SIM_LATENCY_MS must be a number of milliseconds')
  if (!Number.isFinite(failRate) || failRate < 0 || failRate > 1) {
    throw new Error('SIM_FAIL_RATE must be between 0 and 1')
  }
  const keys: { population?: string, civilStatus?: string, businessRegistry?: string } = {}
  if (env.POPULATION_API_KEY) keys.population = env.POPULATION_API_KEY
  if (env.CIVIL_STATUS_API_KEY) keys.civilStatus = env.CIVIL_STATUS_API_KEY
  if (env.BUSINESS_REGISTRY_API_KEY) keys.businessRegistry = env.BUSINESS_REGISTRY_API_KEY
  return {
    host: env.SIM_HOST ?? '127.0.0.1',
    latencyMs,
    failRate,
    ports: {
      population: port(env.SIM_POPULATION_PORT, 4101, 'SIM_POPULATION_PORT'),
      civilStatus: port(env.SIM_CIVIL_STATUS_PORT, 4102, 'SIM_CIVIL_STATUS_PORT'),
      businessRegistry: port(env.SIM_BUSINESS_REGISTRY_PORT, 4103, 'SIM_BUSINESS_REGISTRY_PORT'),
    },
    keys,
  }
}
