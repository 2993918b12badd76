/**
 * `ndx batch` (CONTRACT §10): submit a file of lookups, watch it run, download its results.
 *
 *   ndx batch submit <items.ndjson> --iss <agency> --service s --operation o --purpose p [--wait] [--out f]
 *   ndx batch status <batchId> --iss <agency>
 *   ndx batch results <batchId> --iss <agency> [--out f]
 *   ndx batch cancel <batchId> --iss <agency>
 *
 * One item per non-empty line: `{ "params": { … }, "body": { … } }`. A line that is not JSON is sent as it
 * is (a string) so that it gets its own `problem` in the results, in its place. `submit` keeps the batch id
 * in a state file beside the output (`<out>.batch.json`) before it waits: run the same command again after
 * an interruption and it waits for that batch instead of submitting another.
 *
 * Exit codes: 0 done, 1 refused by the gateway (HTTP status), 2 usage, 3 gateway unreachable.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { projectPath } from '../core/paths.js'
import { NdxClient, signerFromFile, type GatewayReply } from '../sdk/index.js'

const USAGE = `usage: ndx batch submit|status|results|cancel …
  ndx batch submit <items.ndjson> --iss <agency> --service <s> --operation <o> --purpose <p>
                   [--wait] [--out <file>]   (resumes the batch named in <out>.batch.json if there is one)
  ndx batch status <batchId> --iss <agency>
  ndx batch results <batchId> --iss <agency> [--out <file>]
  ndx batch cancel <batchId> --iss <agency>
common: [--key <private JWK file>] [--url <gateway url>] (NDX_URL); without --key the demo key is used
        (DEMO ONLY)
Exit: 0 done, 1 refused by the gateway, 2 usage (arguments, item file, key file), 3 the gateway could not be
reached.`

export interface BatchIo {
  out (text: string): void
  err (text: string): void
  /** Whether `err` is a terminal (the progress bar redraws one line). */
  readonly tty: boolean
  readonly env: Readonly<Record<string, string | undefined>>
  /** How often progress is polled, in ms (default 1000). */
  readonly pollMs?: number
}

const defaultIo: BatchIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  tty: process.stderr.isTTY === true,
  env: process.env,
}

class UsageError extends Error {}
class Refused extends Error {}

const OPTIONS = {
  iss: { type: 'string' },
  key: { type: 'string' },
  url: { type: 'string' },
  service: { type: 'string' },
  operation: { type: 'string' },
  purpose: { type: 'string' },
  wait: { type: 'boolean' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

interface Status { batchId: string, state: string, total: number, done: number, failed: number }

async function client (values: { iss?: string, key?: string, url?: string }, io: BatchIo): Promise<NdxClient> {
  if (values.iss === undefined) throw new UsageError('--iss is required')
  let key = values.key
  if (key === undefined) {
    key = projectPath('demo', 'keys', `${values.iss}.private.jwk.json`)
    if (!existsSync(key)) throw new UsageError(`--key is required (no demo key for ${values.iss})`)
    io.err(`ndx: using the DEMO key ${key} — never use demo keys outside a demo\n`)
  }
  const url = values.url ?? io.env.NDX_URL ?? `http://127.0.0.1:${io.env.PORT ?? 8080}`
  return new NdxClient({ baseUrl: url, signer: await signerFromFile(values.iss, key) })
}

function check<T> (reply: GatewayReply<T>, io: BatchIo): GatewayReply<T> {
  if (reply.status >= 200 && reply.status < 300) return reply
  io.err(`HTTP ${reply.status}  X-Transaction-Id: ${reply.transactionId ?? '-'}\n`)
  io.out((typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body, null, 2)) + '\n')
  throw new Refused(`the gateway answered ${reply.status}`)
}

/** The file's items: each non-empty line parsed, or kept as its text when it is not JSON. */
export function parseItems (text: string): unknown[] {
  const items: unknown[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    try { items.push(JSON.parse(line)) } catch { items.push(line) }
  }
  return items
}

function bar (s: Status, startedAt: number, startDone: number): string {
  const finished = s.done + s.failed
  const width = 30
  const filled = s.total === 0 ? width : Math.round(width * finished / s.total)
  const seconds = (Date.now() - startedAt) / 1000
  const rate = seconds > 0 ? (finished - startDone) / seconds : 0
  const left = s.total - finished
  const eta = rate > 0 ? formatSeconds(left / rate) : '--'
  const counts = `${finished}/${s.total}  done ${s.done}  failed ${s.failed}`
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${counts}  ${rate.toFixed(1)}/s  ETA ${eta}  ${s.state}`
}

function formatSeconds (s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

async function waitDone (api: NdxClient, id: string, io: BatchIo): Promise<Status> {
  const startedAt = Date.now()
  let first: number | null = null
  for (;;) {
    const s = check(await api.call<Status>('GET', `/v1/batches/${id}`), io).body
    first ??= s.done + s.failed
    io.err(io.tty ? `\r${bar(s, startedAt, first)}` : `${bar(s, startedAt, first)}\n`)
    if (s.state === 'done' || s.state === 'cancelled') {
      if (io.tty) io.err('\n')
      return s
    }
    await sleep(io.pollMs ?? 1000)
  }
}

async function download (api: NdxClient, id: string, out: string | undefined, io: BatchIo): Promise<void> {
  const headers = { accept: 'application/x-ndjson' }
  const reply = check(await api.call<string>('GET', `/v1/batches/${id}/results`, { headers }), io)
  // One line of NDJSON is also JSON, which the client parses: written back as the line it was.
  const text = typeof reply.body === 'string'
    ? reply.body
    : reply.body === null ? '' : JSON.stringify(reply.body) + '\n'
  if (out === undefined) io.out(text)
  else {
    await writeFile(`${out}.part`, text)
    await rename(`${out}.part`, out)
    io.err(`ndx: results written to ${out}\n`)
  }
}

type Values = Record<string, string | boolean | undefined>

async function submit (file: string | undefined, values: Values, io: BatchIo): Promise<number> {
  if (file === undefined) throw new UsageError('the items file is required')
  const { service, operation, purpose } = values as Record<string, string | undefined>
  if (service === undefined || operation === undefined) throw new UsageError('--service and --operation are required')
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${err.code ?? err.message}`)
  })
  const digest = createHash('sha256').update(text).update(`\0${service}\0${operation}\0${purpose ?? ''}`).digest('hex')
  const out = values.out as string | undefined
  const stateFile = `${out ?? file}.batch.json`
  const api = await client(values as { iss?: string }, io)

  let batchId: string | null = null
  if (existsSync(stateFile)) {
    const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { batchId: string, digest: string }
    if (saved.digest === digest) {
      batchId = saved.batchId
      io.err(`ndx: resuming batch ${batchId} (from ${stateFile})\n`)
    }
  }
  if (batchId === null) {
    const items = parseItems(text)
    const reply = check(await api.call<{ batchId: string, total: number }>('POST', '/v1/batches', {
      body: { service, operation, ...(purpose === undefined ? {} : { purpose }), items },
    }), io)
    batchId = reply.body.batchId
    await writeFile(stateFile, JSON.stringify({ batchId, digest, submittedAt: new Date().toISOString() }) + '\n')
    io.err(`ndx: batch ${batchId} accepted (${reply.body.total} items)\n`)
  }
  if (values.wait !== true) {
    io.out(JSON.stringify({ batchId }) + '\n')
    return 0
  }
  await waitDone(api, batchId, io)
  await download(api, batchId, out, io)
  await rm(stateFile, { force: true })
  return 0
}

export async function main (argv: string[], io: BatchIo = defaultIo): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS })
    const [command, arg] = positionals
    if (values.help === true) {
      io.out(USAGE + '\n')
      return 0
    }
    switch (command) {
      case 'submit': return await submit(arg, values, io)
      case 'status': case 'results': case 'cancel': {
        if (arg === undefined) throw new UsageError('the batch id is required')
        const api = await client(values, io)
        const target = `/v1/batches/${encodeURIComponent(arg)}`
        if (command === 'results') await download(api, arg, values.out, io)
        else {
          const reply = check(await api.call(command === 'status' ? 'GET' : 'DELETE', target), io)
          io.out(JSON.stringify(reply.body, null, 2) + '\n')
        }
        return 0
      }
      default:
        throw new UsageError(command === undefined ? 'a subcommand is required' : `unknown subcommand ${command}`)
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`ndx batch: ${(err as Error).message}\n${USAGE}\n`)
      return 2
    }
    if (err instanceof Refused) return 1
    io.err(`ndx batch: ${(err as Error).message}\n`)
    return 3
  }
}
