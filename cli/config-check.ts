/**
 * `ndx config check`: validates a configuration directory exactly as the gateway does at startup and on
 * reload (the same loadConfig, the same files read). Everything goes to stdout, one line per issue.
 */
import { ConfigError, formatIssue, loadConfig } from '../gateway/config/load-config.js'
import type { Command } from './command.js'
import { EXIT, jsonText, parse } from './common.js'

export const configCheck: Command = {
  name: 'config check',
  summary: 'validate a configuration directory as the gateway would',
  help: `usage: ndx config check [<dir>] [--json]
  <dir>   the configuration directory (default: CONFIG_DIR, else ./config); files it names are
          resolved relative to it, as the gateway resolves them
  --json  print { ok, dir, issues: [ { file, line, path, reason } ] } (or the counts when ok)
Environment variables referenced as \${NAME} are taken from this shell, as the gateway would take them.
exit: 0 valid, 1 refused (issues listed), 2 usage`,
  async run (argv, io) {
    const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, true)
    const dir = positionals[0] ?? io.env.CONFIG_DIR ?? 'config'
    try {
      const config = await loadConfig(dir, io.env)
      const counts = {
        agencies: Object.keys(config.agencies).length,
        services: Object.keys(config.services).length,
        operations: Object.values(config.services).reduce((n, s) => n + Object.keys(s.operations).length, 0),
      }
      if (values.json === true) io.out(jsonText({ ok: true, dir, ...counts, digest: config.digest, issues: [] }))
      else {
        const { agencies, services, operations } = counts
        const what = `${agencies} agencies, ${services} services, ${operations} operations`
        io.out(`ok: ${dir} — ${what} (digest ${config.digest})\n`)
      }
      return EXIT.ok
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      if (values.json === true) {
        const issues = err.issues.map((i) => ({ file: i.file, line: i.line ?? null, path: i.path, reason: i.reason }))
        io.out(jsonText({ ok: false, dir, issues }))
      } else {
        const lines = err.issues.map((i) => `  ${formatIssue(i)}\n`).join('')
        io.out(`refused: ${dir} — ${err.issues.length} issue(s)\n${lines}`)
      }
      return EXIT.refused
    }
  },
}
