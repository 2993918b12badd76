/**
 * `ndx console` — the auditors' console: a web page on 127.0.0.1 that shows the transaction log (traffic,
 * top agencies and refusals, "who looked at this person", records, integrity), every API call signed here
 * with the auditor's key (console/server.ts). Before serving it asks the gateway once, so a wrong key or an
 * unreachable gateway is said at once (exit 1 or 3) rather than in an empty page.
 */
import { parseArgs } from 'node:util'
import type { Writable } from 'node:stream'
import { startConsole, type RunningConsole } from '../console/server.js'
import { CliFailure, EXIT, gatewayUrl, getJson, loadSigner } from '../console/auditor-session.js'

export const USAGE = `usage: ndx console --iss <agency> [--key <private JWK>] [--url <gateway>] [--port 8090]
Serves the auditors' console on http://127.0.0.1:<port>/ (this machine only). Each call the page makes is
signed here with the key; the key never leaves this process. Stop it with Ctrl-C.
Exit: 0 stopped, 1 the gateway refused the key, 2 bad input (arguments, key file, port taken), 3 the gateway
could not be reached.`

export interface ConsoleIo {
  readonly stdout: Writable
  readonly stderr: Writable
  readonly env: Readonly<Record<string, string | undefined>>
  /** Resolves when the console should stop (default: SIGINT or SIGTERM). */
  readonly stopped?: (running: RunningConsole) => Promise<void>
}

function untilSignal (): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve() }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}

const processIo = (): ConsoleIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env })

async function run (argv: string[], io: ConsoleIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      iss: { type: 'string' },
      key: { type: 'string' },
      url: { type: 'string' },
      aud: { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) { io.stdout.write(USAGE + '\n'); return EXIT.ok }
  const port = Number(values.port ?? '8090')
  if (!/^\d{1,5}$/.test(values.port ?? '8090') || port > 65535) {
    throw new CliFailure('--port must be a port number (0-65535)', EXIT.usage)
  }
  const gateway = gatewayUrl(values.url, io.env)
  const signer = await loadSigner(values.iss, values.key, (t) => io.stderr.write(t + '\n'), values.aud)
  const now = Date.now()
  const probe = `/v1/audit/counts?from=${new Date(now - 60_000).toISOString()}&to=${new Date(now).toISOString()}`
  await getJson(gateway, signer, probe)
  let running: RunningConsole
  try {
    running = await startConsole({ gateway, signer, port })
  } catch (err) {
    const code = (err as { code?: string }).code
    const why = code === 'EADDRINUSE' ? 'the port is in use (try --port)' : code ?? 'failed'
    throw new CliFailure(`cannot listen on 127.0.0.1:${port}: ${why}`, EXIT.usage)
  }
  io.stderr.write(`ndx console: ${signer.agencyId} at ${gateway}\n`)
  io.stdout.write(`open ${running.url}/\n`)
  await (io.stopped ?? untilSignal)(running)
  await running.close()
  return EXIT.ok
}

/** `ndx console`; resolves with the exit code once the console has stopped. */
export async function main (argv: string[], io: ConsoleIo = processIo()): Promise<number> {
  try {
    return await run(argv, io)
  } catch (err) {
    if (err instanceof CliFailure) {
      io.stderr.write(`ndx console: ${err.message}\n`)
      return err.exitCode
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      io.stderr.write(`ndx console: ${(err as Error).message}\n${USAGE}\n`)
      return EXIT.usage
    }
    io.stderr.write(`ndx console: unexpected failure: ${(err as Error).message}\n`)
    return EXIT.refused
  }
}
