/**
 * Reading what the caller sent for an operation: path params (from the router), the query string (parsed
 * here, strictly: unknown or repeated names are refused), and the JSON body.
 */
import { problem, type ValidationIssue } from '../../core/errors.js'
import type { CompiledOperation } from '../runtime/runtime.js'
import type { OperationInput } from '../../adapters/contract.js'

export interface ParsedInput extends OperationInput {
  /** The raw `fields` query value, if given. */
  readonly fields: string | undefined
}

/** Splits a request target into its path and its query string (without `?`). */
export function splitTarget (target: string): [string, string] {
  const q = target.indexOf('?')
  return q === -1 ? [target, ''] : [target.slice(0, q), target.slice(q + 1)]
}

/** Parses a query string, refusing malformed encodings and repeated names. */
export function parseQuery (query: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>
  if (query === '') return out
  const issues: ValidationIssue[] = []
  for (const pair of query.split('&')) {
    if (pair === '') {
      issues.push({ in: 'query', name: 'query', reason: 'has an empty parameter' })
      continue
    }
    const eq = pair.indexOf('=')
    let name: string
    let value: string
    try {
      name = decodeURIComponent((eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '))
      value = decodeURIComponent((eq === -1 ? '' : pair.slice(eq + 1)).replace(/\+/g, ' '))
    } catch {
      throw problem('request.invalid', 'The query string is not valid percent-encoding', {
        errors: [{ in: 'query', name: 'query', reason: 'malformed percent-encoding' }],
      })
    }
    if (Object.hasOwn(out, name)) issues.push({ in: 'query', name, reason: 'is given more than once' })
    out[name] = value
  }
  if (issues.length > 0) throw problem('request.invalid', 'Query parameters may be given once each', { errors: issues })
  return out
}

/** application/json, with no charset or charset=utf-8: JSON between systems is UTF-8 (RFC 8259). */
export function isJsonUtf8 (contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const m = /^application\/json\s*(;\s*charset\s*=\s*"?([^";\s]+)"?\s*)?$/i.exec(contentType)
  return m !== null && (m[2] === undefined || /^utf-?8$/i.test(m[2]))
}

export function readInput (
  op: CompiledOperation,
  pathParams: Record<string, string>,
  query: Record<string, string>,
  body: unknown,
  contentType: string | undefined
): ParsedInput {
  const issues: ValidationIssue[] = []
  for (const name of Object.keys(query)) {
    if (!op.queryNames.has(name)) issues.push({ in: 'query', name, reason: 'is not a parameter of this operation' })
  }
  const params: Record<string, string> = { ...pathParams }
  for (const [name, p] of Object.entries(op.spec.params)) {
    if (p.in === 'query' && query[name] !== undefined) params[name] = query[name]
  }
  issues.push(...op.checkParams(params))
  if (issues.length > 0) {
    throw problem('request.invalid', 'The request does not match the operation', { errors: issues })
  }

  if (op.checkBody !== null) {
    if (!isJsonUtf8(contentType)) throw problem('request.media_type', 'Send the body as application/json (UTF-8)')
    if (body === undefined || body === null) {
      throw problem('request.invalid', 'A JSON body is required', {
        errors: [{ in: 'body', name: 'body', reason: 'is required' }],
      })
    }
    const bodyIssues = op.checkBody(body)
    if (bodyIssues.length > 0) {
      throw problem('request.invalid', 'The body does not match the operation', { errors: bodyIssues })
    }
  }
  return {
    params,
    subject: params[op.spec.subject] as string,
    body: op.checkBody === null ? undefined : body,
    fields: query.fields,
  }
}
