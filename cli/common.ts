/**
 * What every `ndx` command shares: the I/O it writes to, the exit codes, the environment variables it
 * reads, and where it finds an agency's private key.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { projectPath } from '../core/paths.js'

export interface CliIo {
  /** Standard output: the data a command produces (token, reply body, report). */
  out (text: string): void
  /** Standard error: progress and diagnostics (one line per call). */
  err (text: string): void
  env: Readonly<Record<string, string | undefined>>
}

/**
 * Exit codes, so scripts can tell a refusal from a transport failure:
 * 0 done; 1 refused (the gateway answered non-2xx, a config or checkpoint is invalid);
 * 2 usage (a bad option, an unreadable input file); 3 transport (the gateway could not be reached).
 */
export const EXIT = { ok: 0, refused: 1, usage: 2, transport: 3 } as const

/** The environment variables the CLI reads (documented in `ndx --help` and the README). */
export const ENV_HELP = `environment:
  NDX_URL        gateway base URL for call (default http://127.0.0.1:$PORT, PORT default 8080)
  NDX_AGENCY     default --iss (your agency id)
  NDX_KEY        default --key (your private JWK file)
  NDX_KEYS_DIR   where keygen writes and token/call look for <agency>.private.jwk.json (default: .)
  NDX_AUDIENCE   default --aud (the gateway id, default ndx-gateway)
  CONFIG_DIR     default directory for config check (default ./config)`

/** A mistake in how the command was called: exit 2 with the command's usage. */
export class UsageError extends Error {}

/** The gateway could not be reached (refused connection, DNS, timeout): exit 3. */
export class TransportError extends Error {}

/** parseArgs, strict, with `--help`/`-h` and `--json` known to every command. */
type Options = NonNullable<ParseArgsConfig['options']>
export function parse<T extends Options> (args: string[], options: T, positionals = false) {
  return parseArgs({ args, options, allowPositionals: positionals, strict: true })
}

export const keyOptions = {
  iss: { type: 'string' }, key: { type: 'string' }, aud: { type: 'string' },
} as const

/** The directory keygen writes keys to and token/call look them up in. */
export function keysDir (env: CliIo['env']): string {
  return env.NDX_KEYS_DIR ?? '.'
}

/** `<agency>.private.jwk.json`: the one name keygen writes and token/call look for. */
export function keyFileName (agency: string): string {
  return `${agency}.private.jwk.json`
}

/** --iss, or NDX_AGENCY. */
export function agencyOf (values: { iss?: string | undefined }, env: CliIo['env']): string {
  const iss = values.iss ?? env.NDX_AGENCY
  if (iss === undefined || iss === '') throw new UsageError('--iss <agency id> is required (or set NDX_AGENCY)')
  return iss
}

/**
 * The private key of `agency`: --key, NDX_KEY, `<NDX_KEYS_DIR>/<agency>.private.jwk.json` (as keygen names
 * it), and last the bundled demo key (with a warning: demo keys are for demos).
 */
export function findKey (agency: string, key: string | undefined, io: CliIo): string {
  const given = key ?? io.env.NDX_KEY
  if (given !== undefined && given !== '') {
    if (!existsSync(given)) throw new UsageError(`key file ${given} not found`)
    return given
  }
  const named = join(keysDir(io.env), keyFileName(agency))
  if (existsSync(named)) return named
  const demo = projectPath('demo', 'keys', keyFileName(agency))
  if (!existsSync(demo)) {
    throw new UsageError(`no key for ${agency}: give --key <file>, set NDX_KEY, or keep it as ${named}`)
  }
  io.err(`ndx: using the DEMO key ${demo} — never use demo keys outside a demo`)
  return demo
}

type BodyOptions = { body?: string | undefined, 'body-file'?: string | undefined }
export async function readBody (values: BodyOptions): Promise<string | undefined> {
  if (values.body !== undefined && values['body-file'] !== undefined) {
    throw new UsageError('give --body or --body-file, not both')
  }
  if (values['body-file'] !== undefined) {
    try {
      return await readFile(values['body-file'], 'utf8')
    } catch {
      throw new UsageError(`cannot read --body-file ${values['body-file']}`)
    }
  }
  return values.body
}

/** Pretty JSON and a newline. */
export function jsonText (value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n'
}
