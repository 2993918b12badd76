/**
 * The declarative HTTP adapter: any JSON registry, registered by an adapter file alone (CONTRACT §2).
 * The file says where each operation's record lives upstream and how its fields map to canonical ones.
 */
import { createHash } from 'node:crypto'
import type { FieldMapping, OperationSpec, ServiceSpec } from '../core/config-types.js'
import type { AdapterDeps, CanonicalRecord, JsonSchema, OperationInput, OperationShape, RecordKey } from './contract.js'
import { mapRecord, pointerGet } from './mapping.js'
import { RegistryAdapter } from './registry-adapter.js'
import { parseJsonReply, unexpectedStatus } from './upstream.js'

const BODY_PARAM = '#body'

/** The JSON Schema of one mapped field, so replies are serialized against what the file declares. */
export function mappingSchema (mapping: FieldMapping): JsonSchema {
  switch (mapping.type) {
    case undefined: return {}
    case 'string': return { type: ['string', 'null'] }
    case 'number': return { type: ['number', 'null'] }
    case 'boolean': return { type: ['boolean', 'null'] }
    case 'date-dmy': return { type: ['string', 'null'], format: 'date' }
    case 'map': {
      const values = [...new Set(Object.values(mapping.values ?? {}))]
      const types = [...new Set(values.map((v) => v === null ? 'null' : typeof v))]
      return { type: [...new Set([...types, 'null'])], enum: [...values, ...(values.includes(null) ? [] : [null])] }
    }
  }
}

export function declarativeShape (op: OperationSpec): OperationShape {
  const response = op.response ?? {}
  const properties: Record<string, JsonSchema> = {}
  for (const [name, mapping] of Object.entries(response)) properties[name] = mappingSchema(mapping)
  const shape: OperationShape = {
    record: op.id,
    data: { type: 'object', additionalProperties: false, properties },
    fields: Object.keys(response),
    fieldsApplyTo: 'response',
    ...(op.method === 'POST' ? { body: { type: 'object' } } : {}),
  }
  return shape
}

function fill (template: string, params: Readonly<Record<string, string>>, encode: (s: string) => string): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9]*)\}/g, (_, name: string) => encode(params[name] ?? ''))
}
const raw = (s: string): string => s

export class DeclarativeHttpAdapter extends RegistryAdapter {
  readonly #spec: ServiceSpec

  constructor (spec: ServiceSpec, deps: AdapterDeps) {
    super(spec, deps)
    this.#spec = spec
  }

  protected key (op: OperationSpec, input: OperationInput): RecordKey {
    const params: Record<string, string> = { ...input.params }
    // A POST's body shapes the registry's answer, so it is part of what names the record.
    if (op.method !== 'POST') return { service: this.service, kind: op.id, subject: input.subject, params }
    params[BODY_PARAM] = createHash('sha256').update(JSON.stringify(input.body ?? null)).digest('base64url')
    return { service: this.service, kind: op.id, subject: input.subject, params, body: input.body }
  }

  async load (key: RecordKey, signal?: AbortSignal): Promise<CanonicalRecord | null> {
    const op = this.#spec.operations[key.kind]
    if (op?.request === undefined || op.response === undefined) throw new Error(`operation ${key.kind} has no mapping`)
    const query = new URLSearchParams()
    for (const [name, template] of Object.entries(op.request.query)) query.append(name, fill(template, key.params, raw))
    const qs = query.toString()
    const res = await this.upstream.request({
      method: op.request.method,
      path: fill(op.request.path, key.params, encodeURIComponent) + (qs === '' ? '' : `?${qs}`),
      headers: {
        accept: 'application/json',
        ...(op.request.method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      ...(op.request.method === 'POST' ? { body: JSON.stringify(key.body ?? {}) } : {}),
      ...(signal === undefined ? {} : { signal }),
    })
    if (op.notFound.includes(res.status)) return null
    if (res.status < 200 || res.status > 299) throw unexpectedStatus(res.status)
    const native = pointerGet(parseJsonReply(res), op.request.recordPointer)
    if (native === undefined || native === null) return null
    return mapRecord(native, op.response)
  }
}
