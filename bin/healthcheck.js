#!/usr/bin/env node
// Container healthchecks (Dockerfile HEALTHCHECK, compose.yaml), without curl or wget in the image:
//   node bin/healthcheck.js gateway   GET /health/live on PORT answers 200 within 2.5 s
//   node bin/healthcheck.js worker    the log worker's heartbeat (DATA_DIR/worker.alive) is under 30 s old:
//                                     it is touched only while the worker runs and its database answers
import { statSync } from 'node:fs'
import { join, resolve } from 'node:path'

const what = process.argv[2] ?? 'gateway'
if (what === 'worker') {
  const file = join(resolve(process.env.DATA_DIR || './data'), 'worker.alive')
  let fresh = false
  try { fresh = Date.now() - statSync(file).mtimeMs < 30_000 } catch { /* no heartbeat yet */ }
  process.exit(fresh ? 0 : 1)
} else if (what === 'gateway') {
  const port = process.env.PORT || 8080
  fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(2500) })
    .then((res) => process.exit(res.ok ? 0 : 1), () => process.exit(1))
} else {
  process.stderr.write('usage: healthcheck.js gateway|worker\n')
  process.exit(2)
}
