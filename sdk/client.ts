/**
 * The agency-side client: signs each request and sends it. Used by the CLI, the tests and the benchmarks.
 */
import { request as undiciRequest, type Dispatcher } from 'undici'
import { signRequest, type Signer } from './sign.js'

export interface CallOptions {
  readonly purpose?: string
  readonly sub?: string
  /** Sent as JSON; signed byte for byte. */
  readonly body?: unknown
  readonly headers?: Record<string, string>
  /** Aborts the request (e.g. `AbortSignal.timeout(5000)`). */
  readonly signal?: AbortSignal
}

export interface GatewayReply<T = unknown> {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: T
  readonly transactionId: string | undefined
}

export interface ClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  readonly baseUrl: string
  readonly signer: Signer
  readonly dispatcher?: Dispatcher
}

export class NdxClient {
  readonly #base: string
  readonly #signer: Signer
  readonly #dispatcher: Dispatcher | undefined

  constructor (opts: ClientOptions) {
    this.#base = opts.baseUrl.replace(/\/+$/, '')
    this.#signer = opts.signer
    this.#dispatcher = opts.dispatcher
  }

  /** Signs and sends one request; `target` is the path and query, e.g. `/v1/population/citizens/001`. */
  async call<T = unknown>(method: string, target: string, opts: CallOptions = {}): Promise<GatewayReply<T>> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body)
    const token = await signRequest(this.#signer, {
      method,
      target,
      ...(body === undefined ? {} : { body }),
      ...(opts.purpose === undefined ? {} : { purpose: opts.purpose }),
      ...(opts.sub === undefined ? {} : { sub: opts.sub }),
    })
    const res = await undiciRequest(this.#base + target, {
      method: method.toUpperCase() as Dispatcher.HttpMethod,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...opts.headers,
      },
      ...(body === undefined ? {} : { body }),
      ...(this.#dispatcher === undefined ? {} : { dispatcher: this.#dispatcher }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    })
    const text = await res.body.text()
    let parsed: unknown = text
    try {
      parsed = text === '' ? null : JSON.parse(text)
    } catch {
      /* not JSON: keep the text */
    }
    const txn = res.headers['x-transaction-id']
    return {
      status: res.statusCode,
      headers: res.headers,
      body: parsed as T,
      transactionId: typeof txn === 'string' ? txn : undefined,
    }
  }

  citizen (personalId: string, opts: { purpose: string; fields?: string[]; sub?: string }): Promise<GatewayReply> {
    return this.call('GET', `/v1/population/citizens/${personalId}${fieldsQuery(opts.fields)}`, opts)
  }

  verifyCitizen (
    personalId: string,
    claims: Record<string, unknown>,
    opts: { purpose: string; sub?: string }
  ): Promise<GatewayReply> {
    return this.call('POST', `/v1/population/citizens/${personalId}/verify`, { ...opts, body: claims })
  }

  civilEvents (personalId: string, opts: { purpose: string; fields?: string[]; sub?: string }): Promise<GatewayReply> {
    return this.call('GET', `/v1/civil-status/persons/${personalId}/events${fieldsQuery(opts.fields)}`, opts)
  }

  maritalStatus (
    personalId: string,
    opts: { purpose: string; fields?: string[]; sub?: string }
  ): Promise<GatewayReply> {
    return this.call('GET', `/v1/civil-status/persons/${personalId}/marital-status${fieldsQuery(opts.fields)}`, opts)
  }

  enterprise (code: string, opts: { purpose?: string; fields?: string[]; sub?: string } = {}): Promise<GatewayReply> {
    return this.call('GET', `/v1/business-registry/enterprises/${code}${fieldsQuery(opts.fields)}`, opts)
  }
}

function fieldsQuery (fields: string[] | undefined): string {
  return fields === undefined ? '' : `?fields=${fields.map(encodeURIComponent).join(',')}`
}
