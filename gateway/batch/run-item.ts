/**
 * Running one batch item exactly as the same single call would run: the same authorize → fetch →
 * filter (`runOperation`, shared with the request path), its own transaction record through the same
 * sink, with the submitting agency as client.
 *
 * Run once, whatever crashes: an item is skipped when it has a result; one worker at a time holds it (a
 * claim that expires, so a dead worker's items are taken up again); and its result is staged (sealed)
 * before its record is handed to the log and written for good after. A crash between staging and writing
 * replays the staged record (the log keeps one record per id) and writes the staged result, so the
 * registry is not asked again. The one window left: killed after the registry answered and before the
 * result was staged — then the item runs again (the registry may be asked twice, unless the record was
 * kept for reuse); no record of the first run was written, so the item still has one record and one result.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Caller } from '../auth/authenticate.js'
import { GatewayError, problem, problemBody } from '../../core/errors.js'
import { transactionId } from '../../core/ids.js'
import type { Metrics } from '../ops/metrics.js'
import { runOperation, type RequestPathDeps } from '../pipeline/request-path.js'
import { itemTransaction, noteOperation, noteRefusal, operationNotes, toRecord } from '../pipeline/record.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'
import type { Runtime } from '../runtime/runtime.js'
import type { TransactionSink } from '../txlog/sink.js'
import { itemCall, type ResultLine } from './items.js'
import type { BatchMeta, BatchStore, StagedResult } from './store.js'

export interface ItemRunnerDeps {
  readonly store: BatchStore
  /** The configuration serving now (a reload applies to items not yet run). */
  readonly current: () => Runtime
  /** The request path's gates and reads: an item passes the same checks and reuse as its single call would. */
  readonly operation: Pick<RequestPathDeps, 'access' | 'fetch'>
  readonly sink: TransactionSink
  readonly pseudonymizer: Pseudonymizer
  readonly metrics?: Metrics
}

export type ItemOutcome = 'ran' | 'skipped' | 'replayed' | 'closed'

/** Batches a process remembers something about (their meta, that they started): the most recent ones. */
const REMEMBERED = 1000

function remember<V> (map: Map<string, V>, key: string, value: V): void {
  if (map.size >= REMEMBERED) map.delete(map.keys().next().value as string)
  map.set(key, value)
}

export class ItemRunner {
  readonly #deps: ItemRunnerDeps
  readonly #token = randomUUID()
  readonly #metas = new Map<string, BatchMeta>()
  readonly #started = new Map<string, true>()

  constructor (deps: ItemRunnerDeps) {
    this.#deps = deps
  }

  /** Runs item `index` of a batch unless it already has a result or the batch is closed. */
  async run (batchId: string, index: number): Promise<ItemOutcome> {
    const { store } = this.#deps
    const seen = await store.peek(batchId, index)
    if (seen !== 'open') return seen === 'result' ? 'skipped' : 'closed'
    const meta = await this.#meta(batchId)
    if (meta === null) return 'closed'
    const runtime = this.#deps.current()
    const op = runtime.operations.get(`${meta.service}.${meta.operation}`)
    // Held longer than one item can take (a registry timeout, a wait for another instance's load).
    const claimMs = (op?.service.upstream.timeoutMs ?? 3000) * 2 + runtime.config.gateway.reuse.waitTimeoutMs + 5000
    while (!await store.claim(batchId, index, this.#token, claimMs)) {
      await sleep(250)
      if (await store.hasResult(batchId, index)) return 'skipped'
    }
    let released = false
    try {
      const { result, staged } = await store.progress(batchId, index)
      if (result) return 'skipped'
      if (staged !== null) {
        await this.#deps.sink.append(staged.record)
        await store.promote(batchId, staged.line, this.#token)
        released = true
        return 'replayed'
      }
      if (!this.#started.has(batchId)) {
        await store.markStarted(batchId)
        remember(this.#started, batchId, true)
      }
      const item = await store.item(batchId, index)
      if (item === null) return 'closed' // cancelled meanwhile: its items are gone
      const done = await this.#execute(meta, index, item.value, item.bytes)
      await store.stage(batchId, index, done)
      await this.#deps.sink.append(done.record)
      await store.promote(batchId, done.line, this.#token)
      released = true
      return 'ran'
    } finally {
      if (!released) await store.release(batchId, index, this.#token).catch(() => {})
    }
  }

  /** A batch's meta never changes once stored: read once per process. */
  async #meta (batchId: string): Promise<BatchMeta | null> {
    const known = this.#metas.get(batchId)
    if (known !== undefined) return known
    const meta = await this.#deps.store.meta(batchId)
    if (meta !== null) remember(this.#metas, batchId, meta)
    return meta
  }

  async #execute (meta: BatchMeta, index: number, item: unknown, bytes: number): Promise<StagedResult> {
    const runtime = this.#deps.current().acquire()
    const op = runtime.operations.get(`${meta.service}.${meta.operation}`)
    const txn = itemTransaction(transactionId(), op?.spec.method ?? 'POST', {
      ...meta, route: op?.spec.route ?? null, requestBytes: bytes,
    })
    const notes = operationNotes()
    let line: ResultLine
    try {
      if (op === undefined) throw problem('route.not_found', 'The operation is no longer served')
      const agency = runtime.agencies.get(meta.client)
      if (agency === undefined) throw problem('access.denied', 'The agency is no longer configured')
      // A key removed from the agency since the batch was submitted signs nothing more: its items stop too.
      if (await agency.findKey(meta.keyId) === undefined) {
        throw problem('auth.unknown_key', 'The key that signed this batch is no longer the agency\'s')
      }
      const caller: Caller = { agency, kid: meta.keyId, purpose: meta.purpose, onBehalfOf: meta.onBehalfOf }
      const served = await runOperation(caller, op, itemCall(op, item), this.#deps.operation, notes, runtime, txn.id)
      line = { index, status: 200, data: served.data, transactionId: txn.id }
    } catch (err) {
      const gerr = err instanceof GatewayError
        ? err
        : problem('internal', 'The gateway failed to run this item', { cause: err })
      noteRefusal(txn, gerr.code)
      line = { index, status: gerr.status, problem: problemBody(gerr, txn.id), transactionId: txn.id }
    } finally {
      noteOperation(txn, notes)
      runtime.release()
    }
    const record = toRecord(txn, line.status, Buffer.byteLength(JSON.stringify(line)), this.#deps.pseudonymizer)
    this.#deps.metrics?.record(record)
    return { line, record }
  }
}
