/**
 * What a batch submission holds (CONTRACT §10) and how one item becomes an operation call. The envelope
 * (service, operation, purpose, items) is checked when the batch is submitted and refused as a whole; each
 * item is checked only when it runs, so a bad item becomes that item's `problem` and the batch goes on.
 */
import { problem, type ProblemBody } from '../../core/errors.js'
import type { CompiledOperation } from '../runtime/runtime.js'
import type { OperationCall } from '../pipeline/authorize.js'
import { compileBodyCheck } from '../runtime/validation.js'

export interface BatchSubmission {
  readonly service: string
  readonly operation: string
  readonly purpose?: string
  readonly items: unknown[]
}

export const SUBMISSION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['service', 'operation', 'items'],
  properties: {
    service: { type: 'string', pattern: '^[a-z][a-z0-9-]{1,40}$' },
    operation: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,63}$' },
    purpose: { type: 'string', minLength: 1, maxLength: 128 },
    // Items are not checked here: each one that fails is its own problem, not the batch's.
    items: { type: 'array', minItems: 1 },
  },
}
export const checkSubmission = compileBodyCheck(SUBMISSION_SCHEMA)

/** One line of a batch's results, in submission order. */
export interface ResultLine {
  readonly index: number
  readonly status: number
  readonly data?: unknown
  readonly problem?: ProblemBody
  readonly transactionId: string
}

function invalid (reason: string, name = 'item'): never {
  throw problem('request.invalid', 'The item does not match the operation', { errors: [{ in: 'body', name, reason }] })
}

/**
 * An item `{ "params": { … }, "body": { … } }` as the call a single request would make: params named in
 * the operation's path are path params, any other (`fields`, query params, unknown names) goes where the
 * query would, so the same input checks judge it.
 */
export function itemCall (op: CompiledOperation, item: unknown): OperationCall {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    invalid('is not a JSON object (a malformed line?)')
  }
  const { params = {}, body, ...rest } = item as { params?: unknown, body?: unknown }
  for (const name of Object.keys(rest)) invalid('is not a member of an item (params, body)', name)
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    invalid('must be an object of strings', 'params')
  }
  const pathParams: Record<string, string> = {}
  const query: Record<string, string> = {}
  for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
    if (typeof value !== 'string') invalid('must be a string', `params.${name}`)
    if (op.spec.params[name]?.in === 'path') pathParams[name] = value
    else query[name] = value
  }
  return { pathParams, query, body, contentType: 'application/json' }
}
