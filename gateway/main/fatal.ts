/**
 * How every entry point starts: run, and if starting fails, log why (fatal) and exit 1 once the log line
 * is out — not at once, which could cut it off, and not never, which a stray handle could cause.
 */
import type { Logger } from 'pino'

export async function startOrExit (logger: Logger, what: string, start: () => Promise<unknown>): Promise<void> {
  try {
    await start()
  } catch (err) {
    logger.fatal({ err }, `could not start the ${what}`)
    process.exitCode = 1
    setTimeout(() => process.exit(1), 100).unref()
  }
}
