/**
 * Request bodies: kept raw (the token's `bsh` is the hash of the exact bytes) and parsed as JSON with
 * prototype-poisoning protection. Every content type is read, so the signature is checked before the
 * media type is judged; an operation that needs JSON refuses anything else with `request.media_type`.
 */
import fp from 'fastify-plugin'
import sjson from 'secure-json-parse'
import type { FastifyInstance } from 'fastify'
import { problem } from '../../core/errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The raw request body, for the token's bsh binding. */
    rawBody: Buffer | undefined
  }
}

export default fp(async function body (app: FastifyInstance) {
  app.decorateRequest('rawBody', undefined)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(/^application\/([a-z0-9.+-]*\+)?json\b/i, { parseAs: 'buffer' }, (req, raw, done) => {
    const buf = raw as Buffer
    req.rawBody = buf
    if (buf.length === 0) return done(null, undefined)
    try {
      done(null, sjson.parse(buf.toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' }))
    } catch {
      done(
        problem('request.invalid', 'The body is not valid JSON', {
          errors: [{ in: 'body', name: 'body', reason: 'is not valid JSON or holds __proto__/constructor keys' }],
        }),
        undefined
      )
    }
  })
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, raw, done) => {
    req.rawBody = raw as Buffer
    done(null, undefined)
  })
}, { name: 'ndx-body' })
