/**
 * What an identified agency may do (CONTRACT §2 grants, §4): roles, operation grants, purposes, and
 * fields. Every check here runs before any record is read or reused, so an agency without the grant never
 * learns whether a record exists or is kept.
 */
import { problem } from '../../core/errors.js'
import type { Grant, Role } from '../../core/config-types.js'
import type { Caller } from '../auth/authenticate.js'
import type { CompiledOperation } from '../runtime/runtime.js'

export function requireRole (caller: Caller, role: Role): void {
  if (!caller.agency.hasRole(role)) throw problem('access.role', `This call needs the ${role} role`)
}

/** The caller's grant for the operation, once its role and purpose are in order. */
export function authorizeOperation (caller: Caller, op: CompiledOperation): Grant {
  requireRole(caller, 'consumer')
  const grant = caller.agency.spec.grants[`${op.service.service}.${op.spec.id}`]
  if (grant === undefined) {
    throw problem('access.denied', `${op.service.service}.${op.spec.id} is not granted to this agency`)
  }
  const purpose = caller.purpose
  if (purpose === null) {
    if (op.service.personalData) {
      throw problem('access.purpose', `${op.service.service} holds personal data: the token needs a purpose claim`)
    }
  } else if (grant.purposes !== '*' && !grant.purposes.includes(purpose)) {
    throw problem('access.purpose', `Purpose ${purpose} is not granted for ${op.service.service}.${op.spec.id}`)
  }
  return grant
}

function granted (grant: Grant, op: CompiledOperation): readonly string[] {
  return grant.fields === '*' ? op.shape.fields : grant.fields
}

/**
 * The fields a reply will hold: those asked for with `?fields`, or every granted field. An unknown field is
 * `request.invalid`; a known one not granted is `access.field`.
 */
export function selectFields (op: CompiledOperation, grant: Grant, fieldsParam: string | undefined): readonly string[] {
  const allowed = granted(grant, op)
  if (fieldsParam === undefined) return allowed
  const asked = fieldsParam.split(',')
  const unknown = asked.filter((f) => !op.shape.fields.includes(f))
  if (unknown.length > 0 || asked.length === 0) {
    throw problem('request.invalid', 'fields names unknown fields', {
      errors: (unknown.length > 0 ? unknown : ['']).map((f) => ({
        in: 'query' as const,
        name: 'fields',
        reason: `${f === '' ? 'an empty name' : f} is not a field of this operation`,
      })),
    })
  }
  const refused = asked.filter((f) => !allowed.includes(f))
  if (refused.length > 0) throw problem('access.field', `Not granted: ${[...new Set(refused)].join(', ')}`)
  return [...new Set(asked)]
}

/** For verification: every claimed field must be one the agency may verify. */
export function checkClaims (op: CompiledOperation, grant: Grant, claims: Record<string, unknown>): void {
  const allowed = granted(grant, op)
  const refused = Object.keys(claims).filter((f) => !allowed.includes(f))
  if (refused.length > 0) throw problem('access.field', `Not granted for verification: ${refused.join(', ')}`)
}
