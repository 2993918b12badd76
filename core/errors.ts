/**
 * The one table of problem codes (CONTRACT §4). Every refusal or failure that reaches a client is a
 * `GatewayError` carrying one of these codes; the error handler turns it into RFC 9457 problem+json.
 */
export const PROBLEMS = {
  'request.invalid': { status: 400, title: 'The request does not match the operation' },
  'auth.missing': { status: 401, title: 'No bearer token' },
  'auth.malformed': { status: 401, title: 'The token is malformed' },
  'auth.unknown_client': { status: 401, title: 'Unknown client' },
  'auth.unknown_key': { status: 401, title: 'Unknown signing key' },
  'auth.algorithm': { status: 401, title: 'Signing algorithm not accepted' },
  'auth.signature': { status: 401, title: 'Invalid signature' },
  'auth.audience': { status: 401, title: 'Token meant for another audience' },
  'auth.expired': { status: 401, title: 'Token outside its validity window' },
  'auth.binding': { status: 401, title: 'Token not bound to this request' },
  'auth.replayed': { status: 401, title: 'Token already used' },
  'access.denied': { status: 403, title: 'Operation not granted' },
  'access.purpose': { status: 403, title: 'Purpose missing or not granted' },
  'access.field': { status: 403, title: 'Field not granted' },
  'access.role': { status: 403, title: 'Role required' },
  'route.not_found': { status: 404, title: 'No such route' },
  'record.not_found': { status: 404, title: 'No such record' },
  'route.method': { status: 405, title: 'Method not allowed at this path' },
  'request.too_large': { status: 413, title: 'Request body too large' },
  'request.media_type': { status: 415, title: 'Unsupported media type' },
  'quota.exceeded': { status: 429, title: 'Quota exceeded' },
  'upstream.bad_response': { status: 502, title: 'The registry answered something unusable' },
  'upstream.unavailable': { status: 503, title: 'The registry is unavailable' },
  'gateway.unavailable': { status: 503, title: 'The gateway cannot serve this now' },
  'upstream.timeout': { status: 504, title: 'The registry did not answer in time' },
  internal: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>

export type ProblemCode = keyof typeof PROBLEMS

/** One validation message in a `request.invalid` problem: where, and what is wrong. */
export interface ValidationIssue {
  in: 'path' | 'query' | 'body' | 'header' | 'config'
  name: string
  reason: string
}

/** An error with a stable problem code. `detail` is shown to the client, so it never holds internals. */
export class GatewayError extends Error {
  readonly code: ProblemCode
  readonly status: number
  readonly detail: string
  readonly errors: ValidationIssue[] | undefined
  readonly headers: Record<string, string> | undefined
  /** A title more precise than the code's (a refused reload is not a request that missed its operation). */
  readonly title: string

  constructor (code: ProblemCode, detail?: string, opts: {
    errors?: ValidationIssue[], headers?: Record<string, string>, cause?: unknown, title?: string
  } = {}) {
    super(detail ?? PROBLEMS[code].title, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'GatewayError'
    this.code = code
    this.status = PROBLEMS[code].status
    this.detail = detail ?? PROBLEMS[code].title
    this.errors = opts.errors
    this.headers = opts.headers
    this.title = opts.title ?? PROBLEMS[code].title
  }
}

/** Shorthand used across the request path: `throw problem('access.denied', '...')`. */
export function problem (
  code: ProblemCode,
  detail?: string,
  opts?: ConstructorParameters<typeof GatewayError>[2]
): GatewayError {
  return new GatewayError(code, detail, opts)
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  code: ProblemCode
  detail: string
  transactionId: string | null
  errors?: ValidationIssue[]
}

export function problemBody (err: GatewayError, transactionId: string | null): ProblemBody {
  const body: ProblemBody = {
    type: `urn:ndx:problem:${err.code}`,
    title: err.title,
    status: err.status,
    code: err.code,
    detail: err.detail,
    transactionId,
  }
  if (err.errors !== undefined) body.errors = err.errors
  return body
}
