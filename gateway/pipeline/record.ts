/**
 * Step 6, record: what the gateway learns about a /v1 request while serving it (the transaction context),
 * and the one transaction record made of it (CONTRACT §7). This file is the only code that writes a
 * transaction context: the other steps return what they found and the request path notes it here. The
 * record is kept by the transaction plugin (plugins/transactions.ts) before a byte of the reply leaves, so
 * a refusal raised anywhere, even before the request path runs (a body too large), is recorded too.
 */
import { problem, type GatewayError } from '../../core/errors.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import type { AuthProgress } from '../auth/authenticate.js'
import { outcomeOf, type TransactionRecord } from '../txlog/record.js'

export interface TransactionContext extends AuthProgress {
  readonly id: string
  readonly startedAt: number
  readonly time: string
  readonly method: string
  service: string | null
  operation: string | null
  route: string | null
  /** The raw subject: pseudonymised when recorded, never logged. */
  subject: string | null
  source: 'upstream' | 'reuse' | null
  fields: string[] | null
  upstreamMs: number | null
  requestBytes: number
  code: string | null
  /** The `iss` of a token that did not verify (the record's `client` stays null). */
  claimedClient: string | null
  /** How the jti was guarded: `shared` (Redis), `local` (in-process while Redis is down), null if not reached. */
  replayGuard: 'shared' | 'local' | null
  /** A kept record served past its reuse window (registry unreachable). */
  stale: boolean
}

/** What the request names: its route template, the service and operation behind it, and its subject. */
export interface TargetNotes {
  readonly route: string | null
  readonly service: string | null
  readonly operation: string | null
  readonly subject: string | null
}

/** What serving one operation call found out, as far as it got (authorize → fetch → filter). */
export interface OperationNotes {
  /** The subject once validated. */
  subject: string | null
  /** Time spent waiting for registries, in ms; null when none was asked. */
  upstreamMs: number | null
  source: 'upstream' | 'reuse' | null
  /** The fields returned (or, for a verification, claimed). */
  fields: string[] | null
  stale: boolean
}

/** What a built-in route says about its request: the person it concerns, the purpose it declares. */
export interface BuiltinNotes {
  subject?: string
  purpose?: string | null
}

export function openTransaction (id: string, method: string, now = Date.now()): TransactionContext {
  return {
    id,
    startedAt: performance.now(),
    time: new Date(now).toISOString(),
    method,
    client: null,
    keyId: null,
    purpose: null,
    onBehalfOf: null,
    service: null,
    operation: null,
    route: null,
    subject: null,
    source: null,
    fields: null,
    upstreamMs: null,
    requestBytes: 0,
    code: null,
    claimedClient: null,
    replayGuard: null,
    stale: false,
  }
}

export function operationNotes (): OperationNotes {
  return { subject: null, upstreamMs: null, source: null, fields: null, stale: false }
}

export function noteTarget (txn: TransactionContext, target: TargetNotes): void {
  txn.route = target.route
  txn.service = target.service
  txn.operation = target.operation
  txn.subject = target.subject
}

/** Who asked, as far as the token was checked: `client` only once its signature verified. */
export function noteAuth (txn: TransactionContext, progress: AuthProgress): void {
  txn.client = progress.client
  txn.claimedClient = progress.claimedClient
  txn.keyId = progress.keyId
  txn.purpose = progress.purpose
  txn.onBehalfOf = progress.onBehalfOf
  txn.replayGuard = progress.replayGuard ?? null
}

export function noteOperation (txn: TransactionContext, notes: OperationNotes): void {
  if (notes.subject !== null) txn.subject = notes.subject
  txn.upstreamMs = notes.upstreamMs
  txn.source = notes.source
  txn.fields = notes.fields
  txn.stale = notes.stale
}

export function noteBuiltin (txn: TransactionContext, notes: BuiltinNotes): void {
  if (notes.subject !== undefined) txn.subject = notes.subject
  if (notes.purpose !== undefined) txn.purpose = notes.purpose
}

/** The refusal that replaces a reply whose record cannot be kept: nothing is served unrecorded. */
export function unrecordable (): GatewayError {
  return problem('gateway.unavailable', 'The gateway cannot record transactions now; try again shortly')
}

/** The problem code the reply carries. */
export function noteRefusal (txn: TransactionContext, code: string): void {
  txn.code = code
}

/** Bytes received, never the declared Content-Length: a client must not choose a record's values. */
export function noteReceived (txn: TransactionContext, bytes: number): void {
  txn.requestBytes = bytes
}

/** A batch item's transaction: the submitting agency's call, as its single call would be recorded. */
export function itemTransaction (
  id: string, method: string,
  item: {
    readonly client: string,
    readonly keyId: string,
    readonly purpose: string | null,
    readonly onBehalfOf: string | null,
    readonly service: string,
    readonly operation: string,
    readonly route: string | null,
    readonly requestBytes: number,
  }
): TransactionContext {
  const txn = openTransaction(id, method)
  txn.client = item.client
  txn.keyId = item.keyId
  txn.purpose = item.purpose
  txn.onBehalfOf = item.onBehalfOf
  txn.service = item.service
  txn.operation = item.operation
  txn.route = item.route
  txn.requestBytes = item.requestBytes
  return txn
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000

/** The record of a transaction; `pseudo` is null only where nothing can need it (no subject, no sub). */
export function toRecord (
  txn: TransactionContext, status: number, responseBytes: number, pseudo: Pseudonymizer | null
): TransactionRecord {
  const ok = status >= 200 && status < 300
  return {
    id: txn.id,
    time: txn.time,
    client: txn.client,
    keyId: txn.keyId,
    service: txn.service,
    operation: txn.operation,
    method: txn.method,
    route: txn.route,
    purpose: txn.purpose,
    subjectRef: txn.subject === null || pseudo === null ? null : pseudo.subjectRef(txn.subject),
    onBehalfOf: txn.onBehalfOf === null || pseudo === null ? null : pseudo.onBehalfOf(txn.onBehalfOf),
    outcome: outcomeOf(status, txn.code),
    status,
    code: txn.code,
    source: ok ? txn.source : null,
    fields: ok ? txn.fields : null,
    durationMs: round3(performance.now() - txn.startedAt),
    upstreamMs: txn.upstreamMs === null ? null : round3(txn.upstreamMs),
    requestBytes: txn.requestBytes,
    responseBytes,
    // The iss of a token that never verified: never the record's client (CONTRACT §7 v1.1).
    claimedClient: txn.client === null ? txn.claimedClient : null,
    replayGuard: txn.replayGuard,
    stale: ok && txn.stale,
  }
}

/** The record of a request refused before it was parsed: only what the gateway saw is known. */
export function unparsedRecord (
  id: string, method: string, status: number, code: string, responseBytes: number, startedAt: number
): TransactionRecord {
  const txn = openTransaction(id, method)
  txn.code = code
  return { ...toRecord(txn, status, responseBytes, null), durationMs: round3(performance.now() - startedAt) }
}
