/**
 * `ndx` — the command-line tool for agencies and administrators: a table of commands, each answering
 * `--help`; `ndx --version`; exit codes that tell a refusal (1) from a usage mistake (2) from an
 * unreachable gateway (3) (see EXIT in common.ts).
 */
import { readFileSync } from 'node:fs'
import { projectPath } from '../core/paths.js'
import { call } from './call.js'
import { checkpointVerify } from './checkpoint.js'
import type { Command } from './command.js'
import { type CliIo, ENV_HELP, EXIT, TransportError, UsageError } from './common.js'
import { configCheck } from './config-check.js'
import { keygen } from './keygen.js'
import { token } from './token.js'

export type { CliIo } from './common.js'

/** An external command module: `main(argv)` resolves with the exit code and prints its own --help. */
type Main = (argv: string[]) => Promise<number>
export const external = (name: string, summary: string, load: () => Promise<{ main: Main }>): Command =>
  ({ name, summary, run: async (argv) => (await load()).main(argv) })

/**
 * Every command. Adding one is one line: a `Command` (see command.ts), or, for a module exporting
 * `async function main(argv: string[]): Promise<number>` that prints its own --help, e.g.
 *   external('audit export', 'stream audit records as NDJSON or CSV', () => import('./audit-export.js')),
 *   external('console', 'the auditor console', () => import('./console.js')),
 *   external('batch', 'submit a batch of lookups and collect the results', () => import('./batch.js')),
 * Two-word names (`config check`) are matched on both words.
 */
export const COMMANDS: readonly Command[] = [
  keygen,
  token,
  call,
  configCheck,
  checkpointVerify,
  external('audit export', 'stream audit records as NDJSON or CSV, with progress', () => import('./audit-export.js')),
  external(
    'console',
    "the auditors' console: a local web page signing each call with your key",
    () => import('./console.js')
  ),
  external('batch', 'submit a batch of lookups, follow it, collect its results', () => import('./batch.js')),
]

export const VERSION = (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string }).version

function usage (): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return `usage: ndx <command> [options]      (ndx <command> --help for its options)
commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}
  ${'--version'.padEnd(width)}  print the version
exit codes: 0 done, 1 refused (an HTTP problem reply, an invalid config or checkpoint), 2 usage, 3 gateway unreachable
${ENV_HELP}
Without --key, token and call use the demo key demo/keys/<agency>.private.jwk.json (DEMO ONLY).`
}

function find (argv: string[]): { command: Command, rest: string[] } | null {
  for (const command of COMMANDS) {
    const words = command.name.split(' ')
    if (words.every((w, i) => argv[i] === w)) return { command, rest: argv.slice(words.length) }
  }
  return null
}

const wantsHelp = (args: string[]): boolean => args.includes('--help') || args.includes('-h')

export async function runCli (argv: string[], io: CliIo): Promise<number> {
  const [first] = argv
  if (first === '--version' || first === '-V' || first === 'version') {
    io.out(`ndx ${VERSION}\n`)
    return EXIT.ok
  }
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    io.out(usage() + '\n')
    return first === undefined ? EXIT.usage : EXIT.ok
  }
  const found = find(argv)
  if (found === null) {
    const group = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => `ndx ${c.name}`)
    io.err(`ndx: unknown command ${argv.slice(0, group.length > 0 ? 2 : 1).join(' ')}` +
      (group.length > 0 ? ` (did you mean ${group.join(' or ')}?)` : '; ndx --help lists the commands'))
    return EXIT.usage
  }
  const { command, rest } = found
  if (command.help !== undefined && wantsHelp(rest)) {
    io.out(command.help + '\n')
    return EXIT.ok
  }
  try {
    return await command.run(rest, io)
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      io.err(`ndx ${command.name}: ${(err as Error).message}\n${command.help ?? ''}`)
      return EXIT.usage
    }
    if (err instanceof TransportError) {
      io.err(`ndx ${command.name}: ${err.message}`)
      return EXIT.transport
    }
    io.err(`ndx ${command.name}: ${(err as Error).message}`)
    return EXIT.refused
  }
}
