#!/usr/bin/env node
// npx ndx: the command-line tool.
import { ensureBuilt } from './ensure-built.js'
await ensureBuilt()
await import('../dist/cli/main.js')
