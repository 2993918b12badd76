/**
 * Step 1, identify: what the request asks for — the operation (or built-in route) its method and path
 * name, its query, and the subject it names. It runs before the token is checked so that a refusal of any
 * kind, a replayed or forged token included, is recorded against the operation and the person it concerns
 * (CONTRACT §7 v1.1). Nothing identified here is acted on or revealed before the token verifies: an
 * unknown route and a malformed query are refused only after it (`notServed`, `badQuery`).
 */
import { problem, type GatewayError } from '../../core/errors.js'
import type { CompiledOperation, RouteMatch, Runtime } from '../runtime/runtime.js'
import { parseQuery, splitTarget } from './input.js'
import type { TargetNotes } from './record.js'

export interface Identified extends TargetNotes {
  /** The path, without the query string. */
  readonly path: string
  readonly match: RouteMatch | null
  readonly query: Record<string, string>
  /** Why the query string cannot be read, if it cannot: refused in its turn, after the token. */
  readonly badQuery: GatewayError | null
}

export function identify (runtime: Runtime, method: string, url: string): Identified {
  // A request target never carries a fragment (RFC 9112); one that does is not a request we can bind.
  if (url.includes('#')) {
    throw problem('request.invalid', 'The request target must not contain a fragment', {
      errors: [{ in: 'path', name: 'target', reason: 'contains #' }],
    })
  }
  const [path, queryString] = splitTarget(url)
  const match = runtime.match(method, path)
  let query: Record<string, string>
  let badQuery: GatewayError | null = null
  try {
    query = parseQuery(queryString)
  } catch (err) {
    query = parseQuery('')
    badQuery = err as GatewayError
  }
  const target = match?.target
  return {
    path,
    match,
    query,
    badQuery,
    route: target?.template ?? null,
    service:
      target === undefined ? null : target.kind === 'operation' ? target.op.service.service : target.route.service,
    operation: target === undefined ? null : target.kind === 'operation' ? target.op.spec.id : target.route.operation,
    subject: target?.kind === 'operation' ? namedSubject(target.op, match?.params ?? {}, query) : null,
  }
}

/** `405 route.method` with `Allow` when the path is served with other methods, else `404 route.not_found`. */
export function notServed (runtime: Runtime, method: string, path: string): GatewayError {
  const allowed = runtime.allowedMethods(path)
  if (allowed.length === 0) return problem('route.not_found', 'No operation is served at this path with this method')
  const detail = `${method} is not served at this path; use ${allowed.join(' or ')}`
  return problem('route.method', detail, { headers: { allow: allowed.join(', ') } })
}

/** The subject the request names (path or query), before it is validated; only ever recorded pseudonymised. */
function namedSubject (
  op: CompiledOperation, pathParams: Record<string, string>, query: Record<string, string>
): string | null {
  const v = pathParams[op.spec.subject] ?? query[op.spec.subject]
  return typeof v === 'string' && v !== '' && v.length <= 256 ? v : null
}
