/**
 * The adapter contract: what the gateway asks of every registry adapter, coded or declarative.
 *
 * An adapter knows one registry. It names the records an operation reads (`reads`), loads native records and
 * maps them to canonical records (`load`), and builds an operation's reply from the canonical records read
 * (`answer`). It never reads a record itself and never sees callers, grants or caches: the gateway's fetch
 * step reads every record through reuse ("provide once"), and access checks, field filtering and the
 * transaction log all happen around it, so every adapter gets them alike.
 *
 * Covered: loading by subject, mapping, derived answers that read several records (`answer` names further
 * records it needs, e.g. a spouse's, and is asked again once they are read). Left out: retries and caching
 * (the gateway's job), writes.
 * Lifecycle: built from the service's config file by `createAdapter`, closed with `close()` when its
 * configuration is replaced or the gateway stops. Every adapter passes test/adapters/adapter-conformance.test.ts.
 */
import type { Dispatcher } from 'undici'
import type { OperationSpec, ServiceSpec } from '../core/config-types.js'

export type CanonicalRecord = Record<string, unknown>
export type JsonSchema = Record<string, unknown>

/** What an operation answers, known before any adapter is built (config validation, OpenAPI, serializers). */
export interface OperationShape {
  /** The record kind it reads; operations sharing a kind share one kept record (e.g. `citizen` and `verify`). */
  readonly record: string
  /** JSON Schema of the reply's `data`. */
  readonly data: JsonSchema
  /** The canonical field names a grant's `fields` may name. */
  readonly fields: readonly string[]
  /**
   * `response`: grants and `?fields` pick top-level fields of `data`.
   * `claims`: the grant names the fields a caller may claim in the body (verification); `data` is not filtered.
   */
  readonly fieldsApplyTo: 'response' | 'claims'
  /** JSON Schema of the request body, for POST operations. */
  readonly body?: JsonSchema
}

/** Names one record: its kind, its subject, and every parameter that shapes the registry's answer. */
export interface RecordKey {
  readonly service: string
  readonly kind: string
  readonly subject: string
  readonly params: Readonly<Record<string, string>>
  /** The caller's body, for registries that take one (its digest is among `params`). */
  readonly body?: unknown
}

/** The records read for one answer so far. */
export interface RecordSet {
  /** The record `key` names: null when the registry has none, undefined when it has not been read. */
  get (key: RecordKey): CanonicalRecord | null | undefined
}

/** An operation's answer: its `data` (null when the subject has no record), or further records to read first. */
export type Answer =
  | { readonly data: CanonicalRecord | null }
  | { readonly needs: readonly RecordKey[] }

export interface OperationInput {
  readonly params: Readonly<Record<string, string>>
  readonly subject: string
  readonly body: unknown
}

export interface Adapter {
  readonly service: string
  /** The records an operation reads first (at least one). */
  reads (op: OperationSpec, input: OperationInput): readonly RecordKey[]
  /**
   * Loads one record from the registry and maps it to canonical form; null only when the registry says, in
   * its own way, that it has none. Failures are `GatewayError`s: the registry unreachable, or answering 5xx,
   * 429 or 408 → `upstream.unavailable`; no whole reply within `upstream.timeoutMs` → `upstream.timeout`; a
   * reply larger than `maxResponseBytes`, unreadable, or with a status it should not send →
   * `upstream.bad_response`. When `signal` aborts, the registry call stops (its connection is dropped) and
   * `load` rejects at once with the signal's reason, as `fetch` does: the caller gave up, the registry did
   * not fail.
   */
  load (key: RecordKey, signal?: AbortSignal): Promise<CanonicalRecord | null>
  /** Builds an operation's `data` from the records read, or names the further records it needs. */
  answer (op: OperationSpec, input: OperationInput, records: RecordSet): Answer
  /**
   * Releases the adapter's connections once the calls in flight are done: none of its sockets to the
   * registry stays open. A `dispatcher` given in `AdapterDeps` is left open: it is the caller's. Calling
   * it again resolves too.
   */
  close (): Promise<void>
}

/** The name a record is known by within one answer (its kind, subject and parameters). */
export function recordName (key: RecordKey): string {
  const params = Object.keys(key.params).sort().map((k) => `${k}=${key.params[k] as string}`).join('&')
  return `${key.kind}\0${key.subject}\0${params}`
}

export interface AdapterDeps {
  /** Largest registry reply accepted, in bytes. */
  readonly maxResponseBytes: number
  /**
   * Sends the registry calls through this undici dispatcher (an Agent shared by adapters, a proxy, one
   * with interceptors) instead of a pool of the adapter's own; the spec's `connections` then do not apply,
   * its timeouts still do. The adapter never closes it.
   */
  readonly dispatcher?: Dispatcher
}

/** A coded adapter: code for what a file alone cannot say (SOAP, derived answers), with fixed operations. */
export interface CodedAdapterDefinition {
  readonly name: string
  readonly operations: Readonly<Record<string, OperationShape>>
  create (spec: ServiceSpec, deps: AdapterDeps): Adapter
}
