/**
 * Graceful shutdown: once closing starts, this instance leaves the platform, replies ask their clients to
 * close the connection (so keep-alive sockets do not hold the server open after the last request in
 * flight), and new /v1 requests are refused by the shed plugin; the configuration's pools close last.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Cluster } from '../ops/cluster.js'
import type { GatewayState } from '../runtime/state.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether the app is closing. */
    isClosing: () => boolean
  }
}

export interface LifecycleOptions {
  readonly state: GatewayState
  readonly cluster: Cluster
}

export default fp<LifecycleOptions>(async function lifecycle (app: FastifyInstance, opts) {
  let closing = false
  app.decorate('isClosing', () => closing)
  app.addHook('preClose', async () => {
    closing = true
    await opts.cluster.close()
  })
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
  app.addHook('onClose', async () => { await opts.state.close() })
}, { name: 'ndx-lifecycle' })
