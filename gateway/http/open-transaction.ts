/**
 * Opening a /v1 request's transaction: the request id is the transaction id, sent back as X-Transaction-Id,
 * and noted on the connection so that a parser error or timeout there is charged to it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { openTransaction, type TransactionContext } from '../pipeline/record.js'
import { opened } from './socket-heads.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Present on /v1 requests only. */
    txn: TransactionContext | undefined
  }
}

/** Opens a /v1 request's transaction: the request id is the transaction id, sent back as X-Transaction-Id. */
export function openRequestTransaction (req: FastifyRequest, reply: FastifyReply): TransactionContext {
  const txn = openTransaction(req.id, req.method)
  req.txn = txn
  opened(req.raw, txn)
  reply.header('x-transaction-id', txn.id)
  return txn
}
