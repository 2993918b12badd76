#!/usr/bin/env node
// npm run simulators: the three registry simulators alone.
import { ensureBuilt } from './ensure-built.js'
await ensureBuilt()
await import('../dist/simulators/main.js')
