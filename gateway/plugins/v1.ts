/**
 * The /v1 surface: one route for every method and path below /v1, handing each request to the request
 * path against the runtime (configuration) current when it arrived.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { serveV1, type RequestPathDeps } from '../pipeline/request-path.js'

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']

export default fp<RequestPathDeps>(async function v1 (app: FastifyInstance, deps) {
  const handler = async (req: Parameters<typeof serveV1>[0], reply: Parameters<typeof serveV1>[1]) => serveV1(req, reply, deps)
  app.route({ method: METHODS, url: '/v1', handler })
  app.route({ method: METHODS, url: '/v1/*', handler })
  if (deps.batchBodyBytes !== undefined) app.route({ method: 'POST', url: '/v1/batches', bodyLimit: deps.batchBodyBytes, handler })
}, { name: 'ndx-v1', dependencies: ['ndx-errors', 'ndx-body', 'ndx-transactions'] })
