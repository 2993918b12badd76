/**
 * Operations endpoints (CONTRACT §8), neither signed nor recorded: liveness, readiness (503 with the
 * reason while Redis, the log database or the queue is down), Prometheus metrics, the OpenAPI document
 * of the configuration serving, and a browsable /docs.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../ops/metrics.js'
import type { Readiness } from '../ops/health.js'

export interface OpsOptions {
  readonly readiness: () => Promise<Readiness>
  readonly metrics: Metrics
  readonly openapi: () => Record<string, unknown>
}

// Resolve the folder only: requiring the package would load the whole UI bundle into the gateway.
const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
const DOCS_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
}
const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ndx-gateway API</title>
<link rel="icon" href="/docs/favicon-32x32.png"><link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>`
const DOCS_INIT = "window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', deepLinking: true, " +
  'supportedSubmitMethods: [] })\n'
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; " +
  "frame-ancestors 'none'"

export default fp<OpsOptions>(async function ops (app: FastifyInstance, opts) {
  const { metrics } = opts

  app.get('/health/live', async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'live' }))

  app.get('/health/ready', async (_req, reply) => {
    const { ready, reason, checks } = await opts.readiness()
    reply.header('cache-control', 'no-store').code(ready ? 200 : 503)
    return ready ? { status: 'ready', checks } : { status: 'unavailable', reason, checks }
  })

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store')
    return metrics.registry.metrics()
  })

  app.get('/openapi.json', async (_req, reply) => reply.header('cache-control', 'no-cache').send(opts.openapi()))

  app.get('/docs', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', CSP).send(DOCS_HTML)
  )
  app.get('/docs/init.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(DOCS_INIT))
  app.get<{ Params: { file: string } }>('/docs/:file', async (req, reply) => {
    // Own properties only: `constructor` or `__proto__` would otherwise find Object.prototype's members.
    const file = req.params.file
    if (!Object.hasOwn(DOCS_FILES, file)) return reply.callNotFound()
    const type = DOCS_FILES[file] as string
    const bytes = await readFile(join(swaggerDir, file))
    return reply.type(type).header('cache-control', 'public, max-age=86400').send(bytes)
  })
}, { name: 'ndx-ops', dependencies: ['ndx-errors'] })
