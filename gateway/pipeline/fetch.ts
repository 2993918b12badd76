/**
 * Step 4, fetch: the records an answer needs, read through the reuse reader (provide once, CONTRACT §6) and
 * loaded from the registry by the operation's adapter only when none is kept; then the adapter's answer
 * made from them. The adapter names the records (`reads`, then `needs` for a derived answer such as a
 * widow's marital status, which needs the spouse's events); this step reads every one of them, so every
 * record is reused, coalesced, timed and counted alike, and the adapter never calls back into the gateway.
 */
import type { Adapter, CanonicalRecord, RecordKey, RecordSet } from '../../adapters/contract.js'
import { recordName } from '../../adapters/contract.js'
import { childTraceparent, withCallContext } from '../../adapters/call-context.js'
import { GatewayError } from '../../core/errors.js'
import type { Metrics } from '../ops/metrics.js'
import type { LoadedRecord, RecordReader } from '../reuse/reader.js'
import { recordVersion } from '../reuse/record-version.js'
import type { CompiledOperation } from '../runtime/runtime.js'
import type { ParsedInput } from './input.js'
import type { OperationNotes } from './record.js'

export interface FetchDeps {
  readonly records: RecordReader
  readonly metrics?: Metrics
}

/** Whom the registry is told it serves: the transaction and the caller's trace. */
export interface FetchContext {
  readonly transactionId: string
  readonly traceparent?: string | string[] | undefined
}

export interface Fetched {
  /** The adapter's answer; null when the registry has no record of the subject. */
  readonly data: CanonicalRecord | null
  /** Every record the answer was made from. */
  readonly used: readonly LoadedRecord[]
}

/** An answer may ask for more records this many times: enough for any derived answer, never a loop. */
const MAX_ROUNDS = 4

/** Reads the records of `op`'s answer and builds it; registry time is added to `notes.upstreamMs`. */
export async function fetchAnswer (
  op: CompiledOperation, input: ParsedInput, deps: FetchDeps, context: FetchContext, notes: OperationNotes
): Promise<Fetched> {
  const read = new Map<string, LoadedRecord | null>()
  const records: RecordSet = {
    get (key) {
      const r = read.get(recordName(key))
      return r === undefined ? undefined : r?.record ?? null
    },
  }
  let keys = op.adapter.reads(op.spec, input)
  for (let round = 1; ; round++) {
    const loaded = await Promise.all(keys.map((key) => readOne(op, key, deps, context, notes)))
    keys.forEach((key, i) => read.set(recordName(key), loaded[i] as LoadedRecord | null))
    const answer = op.adapter.answer(op.spec, input, records)
    if ('data' in answer) {
      const used = [...read.values()].filter((r): r is LoadedRecord => r !== null)
      return { data: answer.data, used }
    }
    if (round >= MAX_ROUNDS || answer.needs.length === 0) {
      throw new Error(`adapter ${op.adapter.service} asked for records ${round} times`)
    }
    keys = answer.needs.filter((key) => !read.has(recordName(key)))
  }
}

/** One record through the reuse reader; the adapter loads it only if it is not kept. */
async function readOne (
  op: CompiledOperation, key: RecordKey, deps: FetchDeps, context: FetchContext, notes: OperationNotes
): Promise<LoadedRecord | null> {
  const policy = {
    ttlSeconds: op.spec.cache.ttlSeconds,
    loadTimeoutMs: op.service.upstream.timeoutMs,
    version: recordVersion(op.service),
  }
  const loaded = await deps.records.read(key, policy, (signal) => load(op.adapter, key, signal, deps, context, notes))
  if (loaded !== null) {
    const reuse = op.spec.cache.ttlSeconds <= 0
      ? 'bypass'
      : loaded.source === 'upstream' ? 'miss' : loaded.stale ? 'stale' : 'hit'
    deps.metrics?.reuse(reuse)
  }
  return loaded
}

async function load (
  adapter: Adapter, key: RecordKey, signal: AbortSignal | undefined, deps: FetchDeps, context: FetchContext,
  notes: OperationNotes
): Promise<CanonicalRecord | null> {
  const started = performance.now()
  let result = 'ok'
  try {
    // Each registry call is a span of its own in the caller's trace.
    const call = { transactionId: context.transactionId, traceparent: childTraceparent(context.traceparent) }
    const record = await withCallContext(call, () => adapter.load(key, signal))
    if (record === null) result = 'not_found'
    return record
  } catch (err) {
    result = err instanceof GatewayError ? err.code : 'internal'
    throw err
  } finally {
    const ms = performance.now() - started
    notes.upstreamMs = (notes.upstreamMs ?? 0) + ms
    deps.metrics?.upstream(adapter.service, result, ms / 1000)
  }
}
