#!/usr/bin/env node
// npm run worker: a transaction-log worker alone (needs REDIS_URL and DATABASE_URL).
import { ensureBuilt } from './ensure-built.js'
await ensureBuilt()
await import('../dist/gateway/main/worker.js')
