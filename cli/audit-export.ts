/**
 * `ndx audit export` — every matching record of the transaction log to a file (or stdout), following
 * `GET /v1/audit/export` with a progress bar (records, rate) on a terminal and plain progress lines
 * otherwise. The window is fixed before the first call (default: the 24 hours up to now), so the count that
 * sizes the bar and the export cover the same records. A file is written as `<out>.part` and renamed only
 * when the gateway has sent the whole export: a cut connection never leaves a file that looks complete.
 */
import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { Transform, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import {
  CliFailure, EXIT, gatewayUrl, getJson, loadSigner, refusalMessage, signedGet, unreachable,
} from '../console/auditor-session.js'

export const USAGE = `usage: ndx audit export --iss <agency> [--key <private JWK>] [--url <gateway>]
         [--from <ISO>] [--to <ISO>] [--client <id>] [--service <s>] [--operation <o>]
         [--outcome ok|not_found|denied|rejected|error] [--source upstream|reuse]
         [--subject <value>] [--purpose <p>] [--code <problem code>]
         [--format ndjson|csv] [--out <file>]
Streams every matching record, oldest first (default window: the last 24 hours; default format: csv
for an --out ending in .csv, else ndjson; default out: stdout). Exit: 0 done, 1 refused by the gateway,
2 bad input (arguments, key file), 3 the gateway could not be reached or the transfer was cut.`

const FILTERS = ['client', 'service', 'operation', 'outcome', 'source', 'subject', 'purpose', 'code'] as const

export interface ExportIo {
  readonly stdout: Writable
  readonly stderr: Writable & { isTTY?: boolean }
  readonly env: Readonly<Record<string, string | undefined>>
  /** Clock for rates (tests). */
  readonly now?: () => number
}

const processIo = (): ExportIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env })

/** Counts records as they pass: NDJSON lines, or CSV rows (line ends outside quotes) after the header. */
export function recordCounter (format: 'ndjson' | 'csv', onCount: (n: number) => void): Transform {
  let n = format === 'csv' ? -1 : 0
  let quoted = false
  return new Transform({
    transform (chunk: Buffer, _enc, done) {
      for (const c of chunk) {
        if (c === 0x22 && format === 'csv') quoted = !quoted
        else if (c === 0x0a && !quoted) n++
      }
      onCount(Math.max(n, 0))
      done(null, chunk)
    },
  })
}

function time (name: string, value: string | undefined, fallback: Date): Date {
  if (value === undefined) return fallback
  const t = new Date(value)
  if (Number.isNaN(t.getTime())) {
    throw new CliFailure(`--${name} must be an ISO time (e.g. 2026-11-25T00:00:00Z)`, EXIT.usage)
  }
  return t
}

/** Progress to stderr: a redrawn bar on a terminal, a line every few seconds otherwise. */
function progress (io: ExportIo, total: number | null, dest: string) {
  const now = io.now ?? Date.now
  const started = now()
  const tty = io.stderr.isTTY === true
  // Off a terminal, the first line comes after 2 s: a short export gets its summary line alone.
  let last = tty ? 0 : started
  let count = 0
  const rate = (): number => Math.round(count / Math.max((now() - started) / 1000, 0.001))
  const fmt = (n: number): string => n.toLocaleString('en-US')
  const draw = (): void => {
    const pct = total === null || total === 0 ? null : Math.min(1, count / total)
    if (tty) {
      const width = 24
      const filled = pct === null ? '' : '#'.repeat(Math.round(pct * width)).padEnd(width, '-')
      const bar = pct === null ? '' : `[${filled}] ${Math.round(pct * 100)}% `
      const of = total === null ? '' : `/${fmt(total)}`
      io.stderr.write(`\r${bar}${fmt(count)}${of} records  ${fmt(rate())} records/s\x1b[K`)
    } else {
      const of = total === null ? '' : `/${total}`
      const share = pct === null ? '' : ` (${Math.round(pct * 100)}%)`
      io.stderr.write(`export: ${count}${of} records${share}, ${rate()} records/s\n`)
    }
  }
  return {
    update (n: number): void {
      count = n
      const t = now()
      if (t - last >= (tty ? 100 : 2000)) { last = t; draw() }
    },
    done (): void {
      if (tty) { draw(); io.stderr.write('\n') }
      const secs = (now() - started) / 1000
      io.stderr.write(`export: ${fmt(count)} records in ${secs.toFixed(1)} s (${fmt(rate())} records/s) → ${dest}\n`)
    },
  }
}

async function run (argv: string[], io: ExportIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      iss: { type: 'string' },
      key: { type: 'string' },
      aud: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(FILTERS.map((f) => [f, { type: 'string' as const }])),
    },
  })
  if (values.help === true) { io.stdout.write(USAGE + '\n'); return EXIT.ok }
  const out = values.out === undefined || values.out === '-' ? null : values.out
  const format = values.format ?? (out?.endsWith('.csv') === true ? 'csv' : 'ndjson')
  if (format !== 'ndjson' && format !== 'csv') throw new CliFailure('--format must be ndjson or csv', EXIT.usage)
  const base = gatewayUrl(values.url, io.env)
  const to = time('to', values.to, new Date())
  const from = time('from', values.from, new Date(to.getTime() - 86_400_000))
  if (from >= to) throw new CliFailure('--from must be before --to', EXIT.usage)
  const signer = await loadSigner(values.iss, values.key, (t) => io.stderr.write(t + '\n'), values.aud)

  const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() })
  const given = values as Record<string, string | boolean | undefined>
  for (const f of FILTERS) if (typeof given[f] === 'string') query.set(f, given[f] as string)
  const { total } = await getJson<{ total: number }>(base, signer, `/v1/audit/counts?${query}`)
  query.set('format', format)
  const res = await signedGet(base, signer, `/v1/audit/export?${query}`)
  if (res.statusCode !== 200) {
    const text = await res.body.text().catch(() => '')
    throw new CliFailure(refusalMessage(signer.agencyId, res.statusCode, text), EXIT.refused)
  }
  const dest = out ?? 'stdout'
  const window = `${from.toISOString()} to ${to.toISOString()}`
  io.stderr.write(`export: ${total.toLocaleString('en-US')} records from ${base}, ${window} (${format})\n`)
  const bar = progress(io, total, dest)
  const counter = recordCounter(format, (n) => bar.update(n))
  const part = out === null ? null : `${out}.part`
  try {
    const sink = part === null ? io.stdout : createWriteStream(part, { mode: 0o600 })
    await pipeline(res.body, counter, sink, { end: part !== null })
  } catch (err) {
    if (part !== null) await rm(part, { force: true })
    const e = err as { code?: string, syscall?: string }
    if (e.code?.startsWith('ERR_FS') === true || e.syscall === 'open') {
      throw new CliFailure(`cannot write ${out ?? 'stdout'}: ${(err as Error).message}`, EXIT.usage)
    }
    throw unreachable(base, err)
  }
  if (part !== null && out !== null) await rename(part, out)
  bar.done()
  return EXIT.ok
}

/** `ndx audit export`; resolves with the exit code. */
export async function main (argv: string[], io: ExportIo = processIo()): Promise<number> {
  try {
    return await run(argv, io)
  } catch (err) {
    if (err instanceof CliFailure) {
      io.stderr.write(`ndx audit export: ${err.message}\n`)
      if (err.exitCode === EXIT.usage && !err.message.startsWith('cannot write')) {
        io.stderr.write('(ndx audit export --help shows the options)\n')
      }
      return err.exitCode
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      io.stderr.write(`ndx audit export: ${(err as Error).message}\n${USAGE}\n`)
      return EXIT.usage
    }
    io.stderr.write(`ndx audit export: unexpected failure: ${(err as Error).message}\n`)
    return EXIT.refused
  }
}
