/**
 * The request path of every /v1 call, top to bottom:
 *
 *   verify → identify → authorize → reuse-or-fetch → filter → record → reply
 *
 * `verify` checks the signed token (auth/authenticate.ts); `identify` finds the operation; `authorize`
 * applies the caller's grant (access/access.ts); `reuse-or-fetch` reads records through the reuse store
 * (reuse/); `filter` keeps the granted, requested fields; `record` writes the transaction record — in the
 * transaction-log plugin's onSend hook, so refusals raised anywhere (even before this handler, like 413)
 * are recorded too; `reply` serializes against the operation's canonical schema.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { LoadedRecord, RecordGetter, RecordKey } from '../../adapters/contract.js'
import { childTraceparent, withCallContext } from '../../adapters/call-context.js'
import { authenticate, type Caller } from '../auth/authenticate.js'
import type { ReplayGuard } from '../auth/replay-guard.js'
import { authorizeOperation, checkClaims, pick, selectFields } from '../access/access.js'
import { GatewayError, problem } from '../../core/errors.js'
import type { Metrics } from '../ops/metrics.js'
import type { RecordReader } from '../reuse/reader.js'
import { recordVersion } from '../reuse/record-version.js'
import type { CompiledOperation, Runtime, RouteMatch } from '../runtime/runtime.js'
import { parseQuery, readInput, splitTarget } from './input.js'
import type { TransactionContext } from './transaction.js'

/** A built-in route's handler (audit, notifications, admin). */
export type BuiltinHandler = (ctx: { req: FastifyRequest, reply: FastifyReply, caller: Caller, runtime: Runtime, params: Record<string, string>, query: Record<string, string>, txn: TransactionContext }) => Promise<unknown>

export interface RequestPathDeps {
  readonly current: () => Runtime
  readonly replayGuard: ReplayGuard
  readonly records: RecordReader
  readonly metrics?: Metrics
  readonly builtins: Readonly<Record<string, BuiltinHandler>>
  /** Called once the caller is known, before anything is read: quotas. */
  readonly admit?: (caller: Caller, txn: TransactionContext) => Promise<void>
  /** Called when verification refuses a request, with the refusal: may throw another (the per-address quota). */
  readonly unidentified?: (req: FastifyRequest, err: unknown, runtime: Runtime) => Promise<void>
  /**
   * Called before a verification (claims) is answered: takes a slot of the caller's budget for the subject
   * (or refuses), and returns what gives it back when the claims all matched.
   */
  readonly verifyBudget?: (caller: Caller, subject: string, runtime: Runtime) => Promise<() => Promise<void>>
  /** Body limit of `POST /v1/batches` (CONTRACT §10), beside the gateway's own for every other request. */
  readonly batchBodyBytes?: number
}

export async function serveV1 (req: FastifyRequest, reply: FastifyReply, deps: RequestPathDeps): Promise<unknown> {
  const txn = req.txn as TransactionContext
  const runtime = deps.current().acquire()
  try {
    // A request target never carries a fragment (RFC 9112); one that does is not a request we can bind.
    if (req.url.includes('#')) throw problem('request.invalid', 'The request target must not contain a fragment', { errors: [{ in: 'path', name: 'target', reason: 'contains #' }] })
    const [path, queryString] = splitTarget(req.url)
    // The operation is looked up first so that refusals are recorded against it; it is revealed only after verify.
    const match = runtime.match(req.method, path)
    if (match !== null) describe(txn, match)
    // A refused attempt on a person is recorded against that person, whatever refuses it (CONTRACT §7 v1.1):
    // a replayed, expired or over-quota token included, so the subject is known before any check runs.
    // The query is read once, here; a malformed one is refused in its turn, after the token (below).
    let query: Record<string, string>
    let badQuery: unknown = null
    try { query = parseQuery(queryString) } catch (err) { query = parseQuery(''); badQuery = err }
    if (match?.target.kind === 'operation') txn.subject = namedSubject(match.target.op, match.params, query)

    const gw = runtime.config.gateway
    let caller: Caller
    try {
      caller = await authenticate(
        {
          authorization: req.headers.authorization,
          authorizationCount: countHeader(req.raw.rawHeaders, 'authorization'),
          method: req.method,
          target: req.url,
          body: req.rawBody,
        },
        runtime.agencies, deps.replayGuard,
        {
          audience: gw.id,
          maxClockSkewSeconds: gw.maxClockSkewSeconds,
          maxTokenBytes: gw.limits.tokenBytes,
          whenRedisDown: gw.replay.whenRedisDown,
        },
        txn,
      )
    } catch (err) {
      // Only refusals pay for the per-address count: a request that verifies costs nothing here.
      if (deps.unidentified !== undefined) await deps.unidentified(req, err, runtime)
      throw err
    }

    if (match === null) throw noRoute(runtime, req.method, path)
    if (deps.admit !== undefined) await deps.admit(caller, txn)
    if (badQuery !== null) throw badQuery
    if (match.target.kind === 'builtin') {
      const handler = deps.builtins[match.target.route.name]
      if (handler === undefined) throw problem('route.not_found', 'No operation is served at this path with this method')
      reply.header('cache-control', 'no-store')
      return await handler({ req, reply, caller, runtime, params: match.params, query, txn })
    }
    return await serveOperation(req, reply, caller, match.target.op, match.params, query, deps, txn, runtime)
  } finally {
    runtime.release()
  }
}

/** `405 route.method` with `Allow` when the path is served with other methods, else `404 route.not_found`. */
function noRoute (runtime: Runtime, method: string, path: string): GatewayError {
  const allowed = runtime.allowedMethods(path)
  if (allowed.length === 0) return problem('route.not_found', 'No operation is served at this path with this method')
  const detail = `${method} is not served at this path; use ${allowed.join(' or ')}`
  return problem('route.method', detail, { headers: { allow: allowed.join(', ') } })
}

/** How often a header was sent (Node keeps only the first Authorization header of several). */
function countHeader (raw: string[], name: string): number {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).length === name.length && (raw[i] as string).toLowerCase() === name) n++
  return n
}

/** The subject the request names (path or query), before it is validated; only ever recorded pseudonymised. */
function namedSubject (
  op: CompiledOperation, pathParams: Record<string, string>, query: Record<string, string>,
): string | null {
  const v = pathParams[op.spec.subject] ?? query[op.spec.subject]
  return typeof v === 'string' && v !== '' && v.length <= 256 ? v : null
}

function describe (txn: TransactionContext, match: RouteMatch): void {
  txn.route = match.target.template
  if (match.target.kind === 'operation') {
    txn.service = match.target.op.service.service
    txn.operation = match.target.op.spec.id
  } else {
    txn.service = match.target.route.service
    txn.operation = match.target.route.operation
  }
}

async function serveOperation (
  req: FastifyRequest, reply: FastifyReply, caller: Caller, op: CompiledOperation,
  pathParams: Record<string, string>, query: Record<string, string>, deps: RequestPathDeps, txn: TransactionContext,
  runtime: Runtime,
): Promise<string> {
  const call = {
    pathParams, query, body: req.body, contentType: req.headers['content-type'], traceparent: req.headers.traceparent,
  }
  const { data, retrievedAt, stale } = await executeOperation(caller, op, call, deps, txn, runtime)
  // reply (the record is written in onSend, before the bytes leave)
  const meta = {
    transactionId: txn.id,
    service: op.service.service,
    operation: op.spec.id,
    source: txn.source ?? 'upstream',
    retrievedAt,
    stale,
  }
  reply.code(200).header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store')
  return op.serialize({ data, meta })
}

/** What a caller asks of one operation: a single call's request, or one item of a batch (CONTRACT §10). */
export interface OperationCall {
  readonly pathParams: Record<string, string>
  readonly query: Record<string, string>
  readonly body: unknown
  readonly contentType: string | undefined
  /** The caller's W3C trace context, continued to the registry. */
  readonly traceparent?: string | string[] | undefined
}

/** The granted, filtered answer of one operation call, and where its records came from. */
export interface OperationAnswer {
  readonly data: Record<string, unknown>
  readonly retrievedAt: string
  readonly stale: boolean
}

/**
 * authorize → reuse-or-fetch → filter for one call: the steps a single call and a batch item share, so both
 * pass exactly the same checks. Fills `txn` (subject, source, fields, upstreamMs) for its record; throws a
 * GatewayError for any refusal or failure.
 */
export async function executeOperation (
  caller: Caller, op: CompiledOperation, call: OperationCall,
  deps: Pick<RequestPathDeps, 'records' | 'metrics' | 'verifyBudget'>, txn: TransactionContext, runtime: Runtime,
): Promise<OperationAnswer> {
  const { records, metrics } = deps
  // authorize: role, grant, purpose; then the input, then the fields asked for or claimed.
  const grant = authorizeOperation(caller, op)
  const input = readInput(op, call.pathParams, call.query, call.body, call.contentType)
  txn.subject = input.subject
  let fields: readonly string[] | null = null
  if (op.shape.fieldsApplyTo === 'response') fields = selectFields(op, grant, input.fields)
  else checkClaims(op, grant, input.body as Record<string, unknown>)

  // reuse-or-fetch
  const used: LoadedRecord[] = []
  const service = op.service.service
  const get: RecordGetter = async (key: RecordKey) => {
    const policy = {
      ttlSeconds: op.spec.cache.ttlSeconds,
      loadTimeoutMs: op.service.upstream.timeoutMs,
      version: recordVersion(op.service),
    }
    const loaded = await records.read(key, policy, async (signal) => {
      const started = performance.now()
      let result = 'ok'
      try {
        const context = { transactionId: txn.id, traceparent: childTraceparent(call.traceparent) }
        const record = await withCallContext(context, () => op.adapter.load(key, signal))
        if (record === null) result = 'not_found'
        return record
      } catch (err) {
        result = err instanceof GatewayError ? err.code : 'internal'
        throw err
      } finally {
        const ms = performance.now() - started
        txn.upstreamMs = (txn.upstreamMs ?? 0) + ms
        metrics?.upstream(service, result, ms / 1000)
      }
    })
    if (loaded !== null) {
      used.push(loaded)
      metrics?.reuse(op.spec.cache.ttlSeconds <= 0 ? 'bypass' : loaded.source === 'upstream' ? 'miss' : loaded.stale ? 'stale' : 'hit')
    }
    return loaded
  }
  // A verification takes a slot of its failure budget before it is answered (CONTRACT §5 v1.1).
  const budget = fields === null ? deps.verifyBudget : undefined
  const refund = budget === undefined ? null : await budget(caller, input.subject, runtime)
  let answer: Record<string, unknown> | null
  try {
    answer = await op.adapter.answer(op.spec, input, get)
  } catch (err) {
    await refund?.()
    throw err
  }
  if (refund !== null && answer?.match === true) await refund()
  if (answer === null) throw problem('record.not_found', 'The registry has no such record')
  const first = used[0]
  txn.source = used.length === 0 ? null : used.every((r) => r.source === 'reuse') ? 'reuse' : 'upstream'

  // filter
  const data = fields === null ? answer : pick(answer, fields)
  txn.fields = fields === null ? Object.keys(input.body as object) : [...fields]
  txn.stale = used.some((r) => r.stale)
  return {
    data,
    retrievedAt: toMinute(used.reduce(
      (oldest, r) => r.retrievedAt < oldest ? r.retrievedAt : oldest,
      first?.retrievedAt ?? new Date().toISOString(),
    )),
    stale: txn.stale,
  }
}

/**
 * `meta.retrievedAt` to the minute, rounded down: a kept record's exact fetch time would tell every grantee
 * when another agency looked the person up (README, security). Rounding down never makes data look fresher.
 */
export function toMinute (iso: string): string {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? `${iso.slice(0, 16)}:00.000Z` : iso
}
