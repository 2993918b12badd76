/**
 * Administration (role admin):
 * - `POST /v1/admin/reload` reads CONFIG_DIR again. A directory with any issue is refused with its issues
 *   and the running configuration keeps serving; requests in flight finish on the configuration they
 *   started with. An accepted reload makes every instance sharing the Redis reload too.
 * - `GET /v1/admin/instances` lists the instances of the platform: each one's config digest and last reload.
 * - `POST /v1/admin/purge` drops the kept records of a service, or of one subject of it, on every instance.
 */
import { problem } from '../../core/errors.js'
import { ConfigError } from '../config/load-config.js'
import { isJsonUtf8 } from '../pipeline/input.js'
import { compileBodyCheck } from '../runtime/validation.js'
import type { BuiltinRoute } from '../runtime/runtime.js'
import type { BuiltinHandler } from '../pipeline/request-path.js'
import type { Cluster } from '../ops/cluster.js'
import type { RecordReader } from '../reuse/reader.js'
import type { ReloadResult } from '../runtime/reload-result.js'

export const ADMIN_ROUTES: readonly BuiltinRoute[] = [
  {
    method: 'POST',
    path: '/admin/reload',
    name: 'admin.reload',
    service: 'admin',
    operation: 'reload',
    role: 'admin',
  },
  {
    method: 'GET',
    path: '/admin/instances',
    name: 'admin.instances',
    service: 'admin',
    operation: 'instances',
    role: 'admin',
  },
  { method: 'POST', path: '/admin/purge', name: 'admin.purge', service: 'admin', operation: 'purge', role: 'admin' },
]

export const PURGE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['service'],
  properties: {
    service: { type: 'string', pattern: '^[a-z][a-z0-9-]{1,40}$' },
    subject: { type: 'string', minLength: 1, maxLength: 256 },
  },
}
const checkPurge = compileBodyCheck(PURGE_SCHEMA)

export interface AdminDeps {
  readonly reload: () => Promise<ReloadResult>
  readonly cluster: () => Cluster
  readonly records: RecordReader
}

export function adminHandlers (deps: AdminDeps): Record<string, BuiltinHandler> {
  return {
    'admin.reload': async () => {
      try {
        return await deps.reload()
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err
        throw problem(
          'request.invalid',
          `The configuration directory was refused (${err.issues.length} issue(s)); ` +
            'the running configuration keeps serving',
          {
            title: 'The configuration directory was refused',
            errors: err.issues.map((i) => ({
              in: 'config' as const,
              name: `${i.file}${i.path === '' ? '' : `#${i.path}`}`,
              reason: i.reason,
            })),
          }
        )
      }
    },
    'admin.instances': async () => {
      try {
        return { instances: await deps.cluster().instances() }
      } catch (err) {
        throw problem('gateway.unavailable', 'The instances cannot be listed now; try again shortly', { cause: err })
      }
    },
    'admin.purge': async ({ req, reply, runtime, notes }) => {
      if (!isJsonUtf8(req.headers['content-type'])) {
        throw problem('request.media_type', 'Send the body as application/json (UTF-8)')
      }
      const issues = checkPurge(req.body)
      if (issues.length > 0) throw problem('request.invalid', 'The purge does not match its schema', { errors: issues })
      const { service, subject } = req.body as { service: string, subject?: string }
      if (!Object.hasOwn(runtime.config.services, service)) {
        const errors = [{ in: 'body' as const, name: 'service', reason: 'is not a configured service' }]
        throw problem('request.invalid', 'No such service', { errors })
      }
      if (subject !== undefined) notes.subject = subject
      const invalidated = await deps.records.invalidate(service, subject)
      reply.code(202)
      return { invalidated }
    },
  }
}
