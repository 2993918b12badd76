/**
 * The three bundled registry simulators, started together (`npm run simulators`, and by `npm start`).
 */
import { businessRegistrySimulator } from './business-registry.js'
import { civilStatusSimulator } from './civil-status.js'
import type { Simulator } from './behaviour.js'
import { populationSimulator } from './population.js'

export interface SimulatorOptions {
  host?: string
  /** Ports for population, civil-status, business-registry; 0 picks free ports (tests). */
  ports?: { population: number, civilStatus: number, businessRegistry: number }
  latencyMs?: number
  failRate?: number
  keys?: { population?: string, civilStatus?: string, businessRegistry?: string }
}

export interface RunningSimulators {
  readonly population: Simulator
  readonly civilStatus: Simulator
  readonly businessRegistry: Simulator
  /** Base URLs, in the environment variables the default config reads. */
  readonly env: { POPULATION_URL: string, CIVIL_STATUS_URL: string, BUSINESS_REGISTRY_URL: string }
  close (): Promise<void>
}

export const DEFAULT_PORTS = { population: 4101, civilStatus: 4102, businessRegistry: 4103 }
export const DEMO_KEYS = {
  population: 'demo-population-key',
  civilStatus: 'demo-civil-status-key',
  businessRegistry: 'demo-business-registry-key',
}

export async function startSimulators (opts: SimulatorOptions = {}): Promise<RunningSimulators> {
  const host = opts.host ?? '127.0.0.1'
  const ports = opts.ports ?? DEFAULT_PORTS
  const common = { latencyMs: opts.latencyMs ?? 0, failRate: opts.failRate ?? 0 }
  const population = populationSimulator({ ...common, apiKey: opts.keys?.population ?? DEMO_KEYS.population })
  const civilStatus = civilStatusSimulator({ ...common, apiKey: opts.keys?.civilStatus ?? DEMO_KEYS.civilStatus })
  const businessRegistry = businessRegistrySimulator({
    ...common,
    apiKey: opts.keys?.businessRegistry ?? DEMO_KEYS.businessRegistry,
  })
  const started: Simulator[] = []
  try {
    const urls: string[] = []
    for (const [sim, port] of [
      [population, ports.population],
      [civilStatus, ports.civilStatus],
      [businessRegistry, ports.businessRegistry],
    ] as const) {
      urls.push(await sim.listen(port, host))
      started.push(sim)
    }
    return {
      population,
      civilStatus,
      businessRegistry,
      env: {
        POPULATION_URL: urls[0] as string,
        CIVIL_STATUS_URL: urls[1] as string,
        BUSINESS_REGISTRY_URL: urls[2] as string,
      },
      close: async () => {
        await Promise.all([population.close(), civilStatus.close(), businessRegistry.close()])
      },
    }
  } catch (err) {
    await Promise.all(started.map((s) => s.close()))
    throw err
  }
}
