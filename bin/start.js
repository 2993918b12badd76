#!/usr/bin/env node
// npm start: the registry simulators and the gateway (compiled by `npm run build`, run on `npm ci`).
import { ensureBuilt } from './ensure-built.js'
await ensureBuilt()
await import('../dist/gateway/main/start.js')
