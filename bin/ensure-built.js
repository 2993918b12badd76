// The launchers run compiled JavaScript from dist/. `npm ci` builds it (the prepare script); if it is
// missing (e.g. installed with --ignore-scripts), say how to build instead of failing with a stack trace.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export async function ensureBuilt () {
  const marker = fileURLToPath(new URL('../dist/gateway/app.js', import.meta.url))
  if (!existsSync(marker)) {
    process.stderr.write('ndx-gateway is not built: run `npm run build` (npm ci does it for you).\n')
    process.exit(1)
  }
}
