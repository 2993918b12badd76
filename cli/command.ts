/** The shape of one `ndx` command in the command table (cli/ndx.ts). */
import type { CliIo } from './common.js'

export interface Command {
  /** One or two words: `keygen`, `config check`. */
  readonly name: string
  /** One line for `ndx --help`. */
  readonly summary: string
  /**
   * The command's `--help` text (usage, options, exit codes). Without it, `--help` is passed to `run`
   * (commands that print their own help).
   */
  readonly help?: string
  /** Runs the command; resolves with the exit code (see EXIT). */
  run (argv: string[], io: CliIo): Promise<number>
}
