/**
 * The /v1 surface: one route for every method and path below /v1, handing each request to the request
 * path against the runtime (configuration) current when it arrived.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { serveV1, type RequestPathDeps } from '../pipeline/request-path.js'

export interface V1Options {
  readonly path: RequestPathDeps
  /** Body limit of `POST /v1/batches` (CONTRACT §10), beside the gateway's own for every other request. */
  readonly batchBodyBytes: number
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']

export default fp<V1Options>(async function v1 (app: FastifyInstance, opts) {
  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => serveV1(req, reply, opts.path)
  app.route({ method: METHODS, url: '/v1', handler })
  app.route({ method: METHODS, url: '/v1/*', handler })
  app.route({ method: 'POST', url: '/v1/batches', bodyLimit: opts.batchBodyBytes, handler })
}, { name: 'ndx-v1', dependencies: ['ndx-errors', 'ndx-body', 'ndx-transactions'] })
