/**
 * The request path of every /v1 call, top to bottom, one step per file:
 *
 *   identify → verify → authorize → fetch → filter → record → reply
 *
 * 1. identify.ts   the operation (or built-in route) and the subject the request names
 * 2. verify.ts     the signed token: signature, claims, binding, replay
 * 3. authorize.ts  quotas, role, grant, purpose, input, fields, the verification budget
 * 4. fetch.ts      the records through reuse (provide once), the adapter's answer from them
 * 5. filter.ts     only the granted, asked-for fields
 * 6. record.ts     the transaction context, noted after each step and kept as one record before the reply
 * 7. reply.ts      serialized against the operation's canonical schema
 *
 * This file only runs the steps in that order. A refusal anywhere is thrown as a GatewayError; the errors
 * plugin answers it and the record step keeps its record, with whatever the steps before it noted.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { problem } from '../../core/errors.js'
import type { Caller } from '../auth/authenticate.js'
import type { ReplayGuard } from '../auth/replay-guard.js'
import type { CompiledOperation, Runtime } from '../runtime/runtime.js'
import { identify, notServed, type Identified } from './identify.js'
import { verify, emptyProgress } from './verify.js'
import {
  admitCaller, admitUnverified, authorizeCall, authorizeRoute, spendVerification, type AccessGates, type OperationCall,
} from './authorize.js'
import { fetchAnswer, type FetchDeps } from './fetch.js'
import { filter } from './filter.js'
import {
  noteAuth, noteBuiltin, noteOperation, noteTarget, operationNotes, type BuiltinNotes, type OperationNotes,
  type TransactionContext,
} from './record.js'
import { replyWith, toMinute, type Served } from './reply.js'

/** A built-in route's handler (audit, notifications, admin, batches): authorized by role, recorded alike. */
export type BuiltinHandler = (ctx: BuiltinContext) => Promise<unknown>

export interface BuiltinContext {
  readonly req: FastifyRequest
  readonly reply: FastifyReply
  readonly caller: Caller
  readonly runtime: Runtime
  readonly params: Record<string, string>
  readonly query: Record<string, string>
  /** What the handler tells the record step about its request. */
  readonly notes: BuiltinNotes
}

export interface RequestPathDeps {
  /** The configuration serving now; a request keeps the one it started on. */
  readonly current: () => Runtime
  readonly replayGuard: ReplayGuard
  readonly access: AccessGates
  readonly fetch: FetchDeps
  readonly builtins: Readonly<Record<string, BuiltinHandler>>
}

export async function serveV1 (req: FastifyRequest, reply: FastifyReply, deps: RequestPathDeps): Promise<unknown> {
  const txn = req.txn as TransactionContext
  const runtime = deps.current().acquire()
  try {
    const target = identify(runtime, req.method, req.url)
    noteTarget(txn, target)
    const caller = await verified(req, runtime, deps, txn)
    if (target.match === null) throw notServed(runtime, req.method, target.path)
    await admitCaller(deps.access, caller)
    if (target.badQuery !== null) throw target.badQuery
    const matched = target.match.target
    if (matched.kind === 'builtin') {
      authorizeRoute(caller, matched.route)
      return await serveBuiltin(req, reply, deps, { caller, runtime, target, name: matched.route.name, txn })
    }
    const call: OperationCall = {
      pathParams: target.match.params,
      query: target.query,
      body: req.body,
      contentType: req.headers['content-type'],
      traceparent: req.headers.traceparent,
    }
    const notes = operationNotes()
    let served: Served
    try {
      served = await runOperation(caller, matched.op, call, deps, notes, runtime, txn.id)
    } finally {
      noteOperation(txn, notes)
    }
    return replyWith(reply, matched.op, txn.id, served)
  } finally {
    runtime.release()
  }
}

/** Step 2, with what it learnt noted whatever the outcome; an unidentifiable caller counts per address. */
async function verified (
  req: FastifyRequest, runtime: Runtime, deps: RequestPathDeps, txn: TransactionContext
): Promise<Caller> {
  const progress = emptyProgress()
  try {
    return await verify(req, runtime, deps.replayGuard, progress)
  } catch (err) {
    await admitUnverified(deps.access, req, err, runtime)
    throw err
  } finally {
    noteAuth(txn, progress)
  }
}

async function serveBuiltin (
  req: FastifyRequest, reply: FastifyReply, deps: RequestPathDeps,
  at: { caller: Caller, runtime: Runtime, target: Identified, name: string, txn: TransactionContext }
): Promise<unknown> {
  const handler = deps.builtins[at.name]
  if (handler === undefined) throw problem('route.not_found', 'No operation is served at this path with this method')
  reply.header('cache-control', 'no-store')
  const notes: BuiltinNotes = {}
  try {
    const { caller, runtime, target } = at
    return await handler({
      req,
      reply,
      caller,
      runtime,
      params: target.match?.params ?? {},
      query: target.query,
      notes,
    })
  } finally {
    noteBuiltin(at.txn, notes)
  }
}

/**
 * Steps 3 to 5 for one call of an operation: what a single call and a batch item share, so both pass
 * exactly the same checks. `notes` holds what the record needs, as far as the call got.
 */
export async function runOperation (
  caller: Caller, op: CompiledOperation, call: OperationCall,
  deps: { readonly access: AccessGates, readonly fetch: FetchDeps }, notes: OperationNotes, runtime: Runtime,
  transactionId: string
): Promise<Served> {
  const access = authorizeCall(caller, op, call)
  notes.subject = access.input.subject
  const refund = await spendVerification(deps.access, caller, access, runtime)
  let fetched
  try {
    fetched = await fetchAnswer(op, access.input, deps.fetch, { transactionId, traceparent: call.traceparent }, notes)
  } catch (err) {
    await refund?.()
    throw err
  }
  const { data, used } = fetched
  if (refund !== null && data?.match === true) await refund()
  if (data === null) throw problem('record.not_found', 'The registry has no such record')
  notes.source = used.length === 0 ? null : used.every((r) => r.source === 'reuse') ? 'reuse' : 'upstream'
  notes.stale = used.some((r) => r.stale)
  const filtered = filter(data, access)
  notes.fields = filtered.fields
  const oldest = used.reduce((at, r) => r.retrievedAt < at ? r.retrievedAt : at, used[0]?.retrievedAt ?? now())
  return { data: filtered.data, source: notes.source ?? 'upstream', retrievedAt: toMinute(oldest), stale: notes.stale }
}

const now = (): string => new Date().toISOString()
