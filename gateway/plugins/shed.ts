/**
 * Refusing what cannot be served well (CONTRACT §4 v1.1), as problem+json `503 gateway.unavailable` with
 * Retry-After, recorded like any other /v1 refusal:
 * - while closing (fastify's own `return503OnClosing` answers plain JSON and records nothing, so it is off);
 * - when overloaded: the event loop lags (CPU saturated: every queued request would only wait longer) or
 *   too many /v1 requests are in progress. Shedding early keeps latency bounded for the requests served,
 *   and tells clients and the load balancer to go elsewhere for a moment.
 * Operations endpoints are never shed (health checks must answer), only refused while closing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { problem } from '../../core/errors.js'
import { sendProblem } from '../http/problem-reply.js'

export interface ShedOptions {
  /** Mean event-loop delay over a sample above which /v1 requests are refused; 0 = never. */
  readonly maxEventLoopDelayMs: number
  /** /v1 requests in progress beyond which new ones are refused; 0 = no limit. */
  readonly maxInflight: number
  readonly sampleMs?: number
  readonly isClosing: () => boolean
}

const RESOLUTION_MS = 10

export default fp<ShedOptions>(async function shed (app: FastifyInstance, opts) {
  let inflight = 0
  let lagging = false
  if (opts.maxEventLoopDelayMs > 0) {
    const sampleMs = opts.sampleMs ?? 500
    const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
    delay.enable()
    let last = performance.now()
    // A timer, not a per-request check: after a stall it runs before the requests queued during it (timers
    // come before I/O in the loop). Its own lateness is the stall just ended; the histogram's mean is the
    // delay sustained over the sample.
    const timer = setInterval(() => {
      const now = performance.now()
      const lateMs = now - last - sampleMs
      last = now
      const meanMs = Number.isFinite(delay.mean) ? delay.mean / 1e6 - RESOLUTION_MS : 0
      lagging = Math.max(lateMs, meanMs) > opts.maxEventLoopDelayMs
      delay.reset()
    }, sampleMs).unref()
    app.addHook('onClose', async () => { clearInterval(timer); delay.disable() })
  }

  // Callback style, like the other hooks on the hot path; replying early means not calling done().
  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (opts.isClosing()) {
      reply.header('connection', 'close')
      sendProblem(req, reply, problem('gateway.unavailable', 'This instance is shutting down; send the request again', {
        headers: { 'retry-after': '1' },
      }))
      return
    }
    if (req.txn !== undefined) {
      if (lagging || (opts.maxInflight > 0 && inflight >= opts.maxInflight)) {
        sendProblem(req, reply, problem('gateway.unavailable', 'The gateway is overloaded; try again shortly', {
          headers: { 'retry-after': '2' },
        }))
        return
      }
      inflight++
      reply.raw.once('close', () => { inflight-- })
    }
    done()
  })
}, { name: 'ndx-shed', dependencies: ['ndx-errors', 'ndx-transactions'] })
