/**
 * `POST /v1/notifications` (CONTRACT §6): a source agency tells the gateway that a subject changed in one
 * of its registries; every kept record of that subject in that service is dropped, on every instance.
 */
import { problem } from '../../core/errors.js'
import { compileBodyCheck } from '../runtime/validation.js'
import { isJsonUtf8 } from '../pipeline/input.js'
import type { BuiltinRoute } from '../runtime/runtime.js'
import type { BuiltinHandler } from '../pipeline/request-path.js'
import type { RecordReader } from '../reuse/reader.js'

export const NOTIFICATION_ROUTE: BuiltinRoute = {
  method: 'POST',
  path: '/notifications',
  name: 'notify',
  service: 'notifications',
  operation: 'invalidate',
  role: 'source',
}

export const NOTIFICATION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['service', 'subject', 'event'],
  properties: {
    service: { type: 'string', pattern: '^[a-z][a-z0-9-]{1,40}$' },
    subject: { type: 'string', minLength: 1, maxLength: 256 },
    event: { enum: ['created', 'updated', 'deleted'] },
  },
}
const check = compileBodyCheck(NOTIFICATION_SCHEMA)

export function notificationHandler (records: RecordReader): BuiltinHandler {
  return async ({ req, reply, caller, runtime, notes }) => {
    if (!isJsonUtf8(req.headers['content-type'])) {
      throw problem('request.media_type', 'Send the body as application/json (UTF-8)')
    }
    const issues = check(req.body)
    if (issues.length > 0) {
      throw problem('request.invalid', 'The notification does not match its schema', { errors: issues })
    }
    const { service, subject } = req.body as { service: string, subject: string, event: string }
    if (!Object.hasOwn(runtime.config.services, service)) {
      throw problem('request.invalid', 'No such service', {
        errors: [{ in: 'body', name: 'service', reason: 'is not a configured service' }],
      })
    }
    if (!caller.agency.spec.sources.includes(service)) {
      throw problem('access.denied', `This agency is not a source of ${service}`)
    }
    notes.subject = subject
    const invalidated = await records.invalidate(service, subject)
    reply.code(202).header('cache-control', 'no-store')
    return { invalidated }
  }
}
