/**
 * The one error handler: every failure becomes RFC 9457 problem+json with a code from errors.ts. Fastify's
 * own errors (body too large, bad JSON, unsupported media type) are mapped onto the table; anything
 * unexpected is `internal`, logged with its stack and shown to the client without internals.
 */
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance } from 'fastify'
import { GatewayError, problem } from '../../core/errors.js'
import { sendProblem } from '../http/problem-reply.js'

function toGatewayError (err: FastifyError | Error): GatewayError {
  if (err instanceof GatewayError) return err
  const code = (err as FastifyError).code
  const status = (err as FastifyError).statusCode
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('request.too_large', 'The request body is larger than the gateway accepts')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('request.media_type', 'Send the body as application/json')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem('request.invalid', 'The JSON body is empty', {
        errors: [{ in: 'body', name: 'body', reason: 'is empty' }],
      })
  }
  if (err instanceof SyntaxError || code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return problem('request.invalid', 'The body is not valid JSON', {
      errors: [{ in: 'body', name: 'body', reason: 'is not valid JSON' }],
    })
  }
  if (typeof status === 'number' && status === 413) return problem('request.too_large')
  if (typeof status === 'number' && status === 415) return problem('request.media_type')
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return problem('request.invalid', 'The request could not be read')
  }
  return problem('internal', 'The gateway failed to serve this request', { cause: err })
}

export default fp(async function errors (app: FastifyInstance) {
  app.setErrorHandler((err, req, reply) => {
    const gerr = toGatewayError(err as Error)
    if (gerr.status >= 500) req.log.error({ err: gerr.cause ?? err, code: gerr.code }, 'request failed')
    return sendProblem(req, reply, gerr)
  })

  app.setNotFoundHandler((req, reply) => sendProblem(req, reply, problem('route.not_found', 'No such route')))
}, { name: 'ndx-errors' })
