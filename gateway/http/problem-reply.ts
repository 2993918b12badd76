/**
 * A problem reply (RFC 9457, CONTRACT §4) through fastify: the one way a refusal is answered, from the
 * error handler, the not-found handler and the router's own failures alike.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { problemBody, type GatewayError } from '../../core/errors.js'
import { noteRefusal } from '../pipeline/record.js'
import './open-transaction.js'

/** Seconds a client waits before sending a refused request again, when the refusal does not say more. */
const RETRY_AFTER_SECONDS = '5'

/** Replies with a problem, recording its code on the request's transaction (if it has one). */
export function sendProblem (req: FastifyRequest, reply: FastifyReply, gerr: GatewayError): FastifyReply {
  if (req.txn !== undefined) noteRefusal(req.txn, gerr.code)
  reply.code(gerr.status).type('application/problem+json; charset=utf-8').header('cache-control', 'no-store')
  if (gerr.headers !== undefined) reply.headers(gerr.headers)
  // Every 503 says when to come back (CONTRACT §4 v1.1): a registry that cannot serve, or the gateway.
  if (gerr.status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', RETRY_AFTER_SECONDS)
  return reply.send(JSON.stringify(problemBody(gerr, req.txn?.id ?? null)))
}
