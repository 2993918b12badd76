/**
 * `POST /v1/admin/reload` (role admin): reads CONFIG_DIR again. A directory with any issue is refused with
 * its issues and the running configuration keeps serving; requests in flight finish on the configuration
 * they started with.
 */
import { problem } from '../errors.js'
import { requireRole } from '../access/access.js'
import { ConfigError } from '../config/load-config.js'
import type { BuiltinRoute } from '../runtime.js'
import type { BuiltinHandler } from '../pipeline/request-path.js'
import type { ReloadResult } from './reload.js'

export const ADMIN_ROUTES: readonly BuiltinRoute[] = [
  { method: 'POST', path: '/admin/reload', name: 'admin.reload', service: 'admin', operation: 'reload' },
]

export function adminHandlers (reload: () => Promise<ReloadResult>): Record<string, BuiltinHandler> {
  return {
    'admin.reload': async ({ caller }) => {
      requireRole(caller, 'admin')
      try {
        return await reload()
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err
        throw problem('request.invalid', `The configuration directory was refused (${err.issues.length} issue(s)); the running configuration keeps serving`, {
          title: 'The configuration directory was refused',
          errors: err.issues.map((i) => ({ in: 'config' as const, name: `${i.file}${i.path === '' ? '' : `#${i.path}`}`, reason: i.reason })),
        })
      }
    },
  }
}
