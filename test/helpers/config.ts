/** Config tests: loading a directory that must be refused, and the issues it is refused with. */
import type { Test } from 'tap'
import { ConfigError, loadConfig } from '../../gateway/config/load-config.js'
import type { ConfigIssue } from '../../core/config-types.js'

export async function refused (t: Test, dir: string, env: Record<string, string> = {}): Promise<ConfigIssue[]> {
  try {
    await loadConfig(dir, env)
  } catch (err) {
    t.ok(err instanceof ConfigError, 'refused with a ConfigError')
    return [...(err as ConfigError).issues]
  }
  t.fail('the directory was accepted')
  return []
}
