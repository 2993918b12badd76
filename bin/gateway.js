#!/usr/bin/env node
// npm run gateway: the gateway alone.
import { ensureBuilt } from './ensure-built.js'
await ensureBuilt()
await import('../dist/gateway/main/gateway.js')
