/**
 * What every simulator shares: its key, added latency, a failure rate, and counters tests can read.
 * Settings are mutable at run time so a test can make a registry slow or failing mid-run.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'

export interface SimulatorSettings {
  apiKey: string
  /** Added delay before each answer (SIM_LATENCY_MS). */
  latencyMs: number
  /** Fraction of requests answered 503 (SIM_FAIL_RATE). */
  failRate: number
}

export interface SimulatorStats {
  /** Requests that reached the registry's handler (after the key check), by record id asked for. */
  readonly lookups: Map<string, number>
  requests: number
  failures: number
}

export interface Simulator {
  readonly name: string
  readonly app: FastifyInstance
  readonly settings: SimulatorSettings
  readonly stats: SimulatorStats
  /** Total lookups, or lookups of one record id. */
  lookupCount (id?: string): number
  listen (port: number, host?: string): Promise<string>
  close (): Promise<void>
}

export function createSimulator (
  name: string,
  settings: SimulatorSettings,
  register: (app: FastifyInstance, sim: Simulator) => void
): Simulator {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 })
  const stats: SimulatorStats = { lookups: new Map(), requests: 0, failures: 0 }
  const sim: Simulator = {
    name,
    app,
    settings,
    stats,
    lookupCount: (id) =>
      id === undefined ? [...stats.lookups.values()].reduce((a, b) => a + b, 0) : (stats.lookups.get(id) ?? 0),
    async listen (port, host = '127.0.0.1') {
      await app.listen({ port, host })
      const addr = app.server.address()
      return typeof addr === 'object' && addr !== null ? `http://${host}:${addr.port}` : String(addr)
    },
    close: () => app.close(),
  }
  app.addHook('onRequest', async (_req: FastifyRequest, reply: FastifyReply) => {
    stats.requests++
    if (settings.latencyMs > 0) await sleep(settings.latencyMs)
    if (settings.failRate > 0 && Math.random() < settings.failRate) {
      stats.failures++
      return reply
        .code(503)
        .header('retry-after', '1')
        .type('text/html; charset=utf-8')
        .send('<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>')
    }
  })
  register(app, sim)
  return sim
}

export function countLookup (sim: Simulator, id: string): void {
  sim.stats.lookups.set(id, (sim.stats.lookups.get(id) ?? 0) + 1)
}
