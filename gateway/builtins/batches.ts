/**
 * Batch lookups (CONTRACT §10): `POST /v1/batches` accepts many lookups of one operation and queues them;
 * `GET /v1/batches/{batchId}` tells progress, `GET …/results` streams results (NDJSON, submission order),
 * `DELETE /v1/batches/{batchId}` cancels what has not run. A batch is visible to the agency that submitted
 * it only: any other agency gets the same 404 as for an id that does not exist.
 *
 * The submission is checked like a single call of the operation (role, grant, purpose): a batch that could
 * not run a single item is refused whole, with the same problem. Each item is checked again when it runs.
 */
import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { problem } from '../../core/errors.js'
import { authorizeOperation } from '../access/access.js'
import { isJsonUtf8 } from '../pipeline/input.js'
import type { BuiltinRoute } from '../runtime/runtime.js'
import type { BuiltinHandler } from '../pipeline/request-path.js'
import { checkSubmission, SUBMISSION_SCHEMA, type BatchSubmission } from '../batch/items.js'
import type { BatchService } from '../batch/service.js'
import type { Caller } from '../auth/authenticate.js'

export const BATCH_ROUTES: readonly BuiltinRoute[] = [
  { method: 'POST', path: '/batches', name: 'batch.submit', service: 'batches', operation: 'submit' },
  { method: 'GET', path: '/batches/{batchId}', name: 'batch.status', service: 'batches', operation: 'status' },
  {
    method: 'GET', path: '/batches/{batchId}/results', name: 'batch.results', service: 'batches', operation: 'results',
  },
  { method: 'DELETE', path: '/batches/{batchId}', name: 'batch.cancel', service: 'batches', operation: 'cancel' },
]

const BATCH_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function available (batches: BatchService | null): BatchService {
  if (batches === null) {
    throw problem('gateway.unavailable', 'Batches need the shared store: this gateway runs without REDIS_URL', {
      headers: { 'retry-after': '3600' },
    })
  }
  return batches
}

/** The batch's status, if the caller submitted it; the same 404 for a foreign id as for an unknown one. */
type OwnStatus = NonNullable<Awaited<ReturnType<BatchService['store']['status']>>>

async function ownStatus (batches: BatchService, caller: Caller, id: string | undefined): Promise<OwnStatus> {
  const status = id === undefined || !BATCH_ID.test(id) ? null : await batches.store.status(id)
  if (status === null || status.client !== caller.agency.spec.id) throw problem('route.not_found', 'No such batch')
  return status
}

function publicStatus (s: OwnStatus): Record<string, unknown> {
  const { client: _client, ...status } = s
  return status
}

export function batchHandlers (batches: BatchService | null): Record<string, BuiltinHandler> {
  return {
    'batch.submit': async ({ req, reply, caller, runtime, notes }) => {
      const service = available(batches)
      if (!isJsonUtf8(req.headers['content-type'])) {
        throw problem('request.media_type', 'Send the body as application/json (UTF-8)')
      }
      const issues = checkSubmission(req.body)
      if (issues.length > 0) throw problem('request.invalid', 'The batch does not match its schema', { errors: issues })
      const body = req.body as BatchSubmission
      const limits = runtime.config.gateway.batch
      if (body.items.length > limits.maxItems) {
        throw problem('request.too_large', `A batch holds at most ${limits.maxItems} items`)
      }
      const op = runtime.operations.get(`${body.service}.${body.operation}`)
      if (op === undefined) {
        const reason = `${body.service}.${body.operation} is not a configured operation`
        throw problem('request.invalid', 'No such operation', { errors: [{ in: 'body', name: 'operation', reason }] })
      }
      if (body.purpose !== undefined && caller.purpose !== null && body.purpose !== caller.purpose) {
        throw problem('request.invalid', 'The token and the batch name different purposes', {
          errors: [{ in: 'body', name: 'purpose', reason: 'differs from the token\'s purpose claim' }],
        })
      }
      const purpose = body.purpose ?? caller.purpose
      notes.purpose = purpose
      authorizeOperation({ ...caller, purpose }, op)

      const batchId = randomUUID()
      const window = limits.window
      await service.store.create(batchId, {
        client: caller.agency.spec.id,
        keyId: caller.kid,
        service: body.service,
        operation: body.operation,
        purpose,
        onBehalfOf: caller.onBehalfOf,
        total: body.items.length,
        window,
        createdAt: new Date().toISOString(),
      }, body.items)
      await service.queues.start(body.service, batchId, body.items.length, window)
      reply.code(202)
      return { batchId, total: body.items.length }
    },

    'batch.status': async ({ caller, params }) => {
      return publicStatus(await ownStatus(available(batches), caller, params.batchId))
    },

    'batch.cancel': async ({ caller, params, reply }) => {
      const service = available(batches)
      const status = await ownStatus(service, caller, params.batchId)
      if (status.state === 'queued' || status.state === 'running') await service.store.cancel(status.batchId)
      reply.code(202)
      return publicStatus(await ownStatus(service, caller, params.batchId))
    },

    'batch.results': async ({ caller, params, reply }) => {
      const service = available(batches)
      const status = await ownStatus(service, caller, params.batchId)
      const lines = service.store.results(status.batchId, status.total)
      reply.type('application/x-ndjson; charset=utf-8')
      return Readable.from((async function * () {
        for await (const line of lines) yield JSON.stringify(line) + '\n'
      })())
    },
  }
}

const STATUS_SCHEMA = {
  type: 'object',
  required: ['batchId', 'state', 'total', 'done', 'failed', 'createdAt', 'finishedAt'],
  properties: {
    batchId: { type: 'string', format: 'uuid' },
    state: { enum: ['queued', 'running', 'done', 'cancelled'] },
    total: { type: 'integer' },
    done: { type: 'integer', description: 'Items answered with data' },
    failed: { type: 'integer', description: 'Items answered with a problem' },
    createdAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: ['string', 'null'], format: 'date-time' },
  },
}

const SUBMISSION_DOC = {
  ...SUBMISSION_SCHEMA,
  properties: {
    ...SUBMISSION_SCHEMA.properties,
    items: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: { params: { type: 'object', additionalProperties: { type: 'string' } }, body: { type: 'object' } },
      },
    },
  },
}

/** The OpenAPI operation of a batch route (summary, parameters, request body, success reply). */
export function batchOpenApi (route: BuiltinRoute, txnHeader: unknown): Record<string, unknown> {
  const id = [{ name: 'batchId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }]
  const reply = (status: number, description: string, type: string, schema: unknown): Record<string, unknown> =>
    ({ [String(status)]: { description, headers: txnHeader, content: { [type]: { schema } } } })
  switch (route.name) {
    case 'batch.submit': return {
      summary: 'Submit many lookups of one operation, run in the background at the registry\'s pace',
      requestBody: { required: true, content: { 'application/json': { schema: SUBMISSION_DOC } } },
      responses: reply(202, 'Accepted', 'application/json', {
        type: 'object', properties: { batchId: { type: 'string', format: 'uuid' }, total: { type: 'integer' } },
      }),
    }
    case 'batch.status': return {
      summary: 'A batch\'s progress (its submitter only)',
      parameters: id,
      responses: reply(200, 'Progress', 'application/json', STATUS_SCHEMA),
    }
    case 'batch.cancel': return {
      summary: 'Cancel what has not run',
      parameters: id,
      responses: reply(202, 'Cancelled (or already done)', 'application/json', STATUS_SCHEMA),
    }
    default: return {
      summary: 'Results so far, one NDJSON line per item in submission order: ' +
        '{ index, status, data | problem, transactionId }',
      parameters: id,
      responses: reply(200, 'Results', 'application/x-ndjson', { type: 'string' }),
    }
  }
}
