#!/usr/bin/env node
// npm run bench: the benchmarks (bench/run.ts), results in bench/RESULTS.md.
import { ensureBuilt } from './ensure-built.js'
await ensureBuilt()
await import('../dist/bench/run.js')
