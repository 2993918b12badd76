/**
 * Logger options: structured JSON, no personal data, no tokens. Requests are logged by their route
 * template and transaction id, never by raw path (which would carry personal ids); headers are not logged,
 * and the authorization header is redacted should any code path log one.
 */
import type { FastifyServerOptions } from 'fastify'

export const REDACT_PATHS = [
  'req.headers.authorization', 'headers.authorization', 'authorization', '*.authorization',
  'token', '*.token', 'req.url', 'subject', '*.subject', 'body', '*.body',
]

export function loggerOptions (level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      // Fastify logs `req` on some internal paths: keep only what is safe.
      req: (req: { method?: string; routeOptions?: { url?: string }; id?: string }) => ({
        method: req.method,
        route: req.routeOptions?.url,
        id: req.id,
      }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
  }
}
