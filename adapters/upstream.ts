/**
 * One undici pool per registry (or the dispatcher the adapter was given), with the timeouts and size limits
 * every adapter needs, and the mapping of transport failures onto problem codes: cannot connect →
 * `upstream.unavailable`, too slow → `upstream.timeout`, an answer we cannot use → `upstream.bad_response`.
 */
import { createHash } from 'node:crypto'
import { Pool, type Dispatcher } from 'undici'
import { GatewayError, problem } from '../core/errors.js'
import type { UpstreamSpec } from '../core/config-types.js'
import { callHeaders } from './call-context.js'
import type { AdapterDeps } from './contract.js'

export interface UpstreamRequest {
  readonly method: 'GET' | 'POST'
  /** Path below the base URL, with its query string already encoded. */
  readonly path: string
  readonly headers?: Record<string, string>
  readonly body?: string
  readonly signal?: AbortSignal
}

export interface UpstreamResponse {
  readonly status: number
  readonly contentType: string
  readonly body: Buffer
}

/**
 * What the log may say about a registry reply: its status, size and a SHA-256 of its bytes (enough to match
 * it against the registry's own logs), never the bytes. Parse errors quote the text they choke on, so a
 * reply's content must never travel as an error message.
 */
export class RegistryReplyError extends Error {
  readonly status: number
  readonly bytes: number
  readonly sha256: string

  constructor (reason: string, status: number, body: Buffer | string) {
    super(`registry reply ${reason}`)
    this.name = 'RegistryReplyError'
    const bytes = typeof body === 'string' ? Buffer.from(body) : body
    this.status = status
    this.bytes = bytes.length
    this.sha256 = createHash('sha256').update(bytes).digest('hex')
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

export class Upstream {
  readonly #dispatcher: Dispatcher
  /** Whether the dispatcher is ours to close (a pool we made) or the caller's. */
  readonly #owned: boolean
  readonly #origin: string
  readonly #prefix: string
  readonly #headers: Record<string, string>
  readonly #timeoutMs: number
  readonly #maxBytes: number
  #closed: Promise<void> | null = null

  constructor (spec: UpstreamSpec, deps: AdapterDeps) {
    const url = new URL(spec.baseUrl)
    this.#origin = url.origin
    this.#prefix = url.pathname.replace(/\/+$/, '')
    this.#headers = { ...spec.headers }
    this.#timeoutMs = spec.timeoutMs
    this.#maxBytes = deps.maxResponseBytes
    this.#owned = deps.dispatcher === undefined
    this.#dispatcher = deps.dispatcher ?? new Pool(url.origin, {
      connections: spec.connections,
      connectTimeout: spec.timeoutMs,
      headersTimeout: spec.timeoutMs,
      bodyTimeout: spec.timeoutMs,
      keepAliveTimeout: 10_000,
    })
  }

  /** Sends one request; resolves with whatever status the registry answered, rejects only on transport failure. */
  async request (req: UpstreamRequest): Promise<UpstreamResponse> {
    // One deadline for the whole exchange, on top of undici's per-phase timeouts.
    const deadline = AbortSignal.timeout(this.#timeoutMs)
    const signal = req.signal === undefined ? deadline : AbortSignal.any([deadline, req.signal])
    try {
      const res = await this.#dispatcher.request({
        // An Agent picks its pool by origin; a Pool ignores it.
        origin: this.#origin,
        method: req.method,
        path: this.#prefix + req.path,
        headers: { ...callHeaders(), ...this.#headers, ...req.headers },
        body: req.body,
        // Per request too, so a dispatcher given by the caller keeps the registry's timeouts.
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        signal,
      })
      const declared = Number(res.headers['content-length'])
      if (Number.isFinite(declared) && declared > this.#maxBytes) {
        // A body destroyed before anyone read it emits 'error' to no listener: an uncaught exception, which
        // shut the whole gateway down. Listen first; the refusal below is what the caller hears.
        res.body.on('error', () => {})
        res.body.destroy()
        throw problem('upstream.bad_response', 'The registry answered with a reply too large to accept')
      }
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length
        if (size > this.#maxBytes) {
          res.body.destroy()
          throw problem('upstream.bad_response', 'The registry answered with a reply too large to accept')
        }
        chunks.push(chunk as Buffer)
      }
      const type = res.headers['content-type']
      return { status: res.statusCode, contentType: typeof type === 'string' ? type : '', body: Buffer.concat(chunks) }
    } catch (err) {
      // The caller gave up (its own reason, as fetch rejects): not a registry failure to report as one.
      if (req.signal?.aborted === true && !deadline.aborted) throw req.signal.reason
      throw toUpstreamError(err, deadline)
    }
  }

  /**
   * Closes the pool once its requests are done; a dispatcher the caller gave stays open (it is theirs).
   * Calling it again resolves too (undici refuses a second close).
   */
  close (): Promise<void> {
    this.#closed ??= this.#owned ? this.#dispatcher.close() : Promise.resolve()
    return this.#closed
  }
}

/**
 * A transport failure as it may be logged: name, code and message only. undici's parser errors carry the
 * bytes they could not parse (`data`), so they keep neither those nor their message.
 */
function transportCause (err: unknown, parser: boolean): Error {
  const e = err as { name?: unknown, code?: unknown, message?: unknown } | null
  const message = typeof e?.message === 'string' ? e.message : 'transport failure'
  const out = new Error(parser ? 'unreadable HTTP reply' : message)
  if (typeof e?.name === 'string') out.name = e.name
  if (typeof e?.code === 'string') Object.assign(out, { code: e.code })
  return out
}

function toUpstreamError (err: unknown, deadline: AbortSignal): GatewayError {
  if (err instanceof GatewayError) return err
  // Not every error's code is a string: a DOMException's is a number.
  const rawCode = (err as { code?: unknown } | null)?.code
  const code = typeof rawCode === 'string' ? rawCode : undefined
  const name = (err as { name?: string } | null)?.name
  if (deadline.aborted || name === 'TimeoutError' || (code !== undefined && TIMEOUT_CODES.has(code))) {
    return problem('upstream.timeout', 'The registry did not answer in time', { cause: transportCause(err, false) })
  }
  const parser = name === 'HTTPParserError' || (code?.startsWith('HPE_') ?? false)
  if (code === 'UND_ERR_RESPONSE_EXCEEDED_MAX_SIZE' || parser) {
    const cause = transportCause(err, parser)
    return problem('upstream.bad_response', 'The registry answered with an unreadable reply', { cause })
  }
  return problem('upstream.unavailable', 'The registry cannot be reached', { cause: transportCause(err, false) })
}

/** Parses a JSON reply; anything that is not JSON is `upstream.bad_response`. */
export function parseJsonReply (res: UpstreamResponse): unknown {
  if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test(res.contentType)) {
    const cause = new RegistryReplyError('is not JSON', res.status, res.body)
    throw problem('upstream.bad_response', 'The registry did not answer with JSON', { cause })
  }
  try {
    return JSON.parse(res.body.toString('utf8'))
  } catch {
    // Not the parse error: its message quotes the reply (personal data) since V8 10.9.
    const cause = new RegistryReplyError('is malformed JSON', res.status, res.body)
    throw problem('upstream.bad_response', 'The registry answered with malformed JSON', { cause })
  }
}

/**
 * The statuses every adapter treats alike: 5xx and 429 mean the registry cannot serve now; anything else
 * unexpected (401, 400, 3xx…) is an answer the gateway cannot use and points at a configuration problem.
 */
export function unexpectedStatus (status: number): GatewayError {
  // The status goes to the log (as the cause), not to the client.
  const cause = new Error(`registry status ${status}`)
  if (status >= 500 || status === 429 || status === 408) {
    return problem('upstream.unavailable', 'The registry cannot serve now', { cause })
  }
  return problem('upstream.bad_response', 'The registry answered with an unexpected status', { cause })
}
