/**
 * Reading native records: JSON pointers and the value types of declarative mappings (CONTRACT §2).
 * Every conversion failure is `upstream.bad_response`: the registry sent something the contract does not allow.
 */
import { problem } from '../core/errors.js'
import type { FieldMapping } from '../core/config-types.js'

/** RFC 6901 JSON pointer lookup; a missing member yields undefined. */
export function pointerGet (doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc
  let node: unknown = doc
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (Array.isArray(node)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined
      node = node[Number(token)]
    } else if (node !== null && typeof node === 'object') {
      node = Object.hasOwn(node, token) ? (node as Record<string, unknown>)[token] : undefined
    } else {
      return undefined
    }
    if (node === undefined) return undefined
  }
  return node
}

function unusable (field: string): never {
  throw problem('upstream.bad_response', `The registry's reply has an unusable value for ${field}`)
}

/** `dd/mm/yyyy` → `YYYY-MM-DD`, refusing dates that do not exist. */
export function dmyToIso (value: unknown, field: string): string | null {
  if (value === null || value === undefined || value === '') return null
  if (typeof value !== 'string') return unusable(field)
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(value.trim())
  if (m === null) return unusable(field)
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const date = new Date(Date.UTC(y, mo - 1, d))
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return unusable(field)
  return `${m[3]}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`
}

/** Looks a native code up in a value map; an unmapped code is refused rather than passed through untranslated. */
export function mapValue<T> (value: unknown, values: Readonly<Record<string, T>>, field: string): T | null {
  if (value === null || value === undefined) return null
  const key = String(value)
  if (!Object.hasOwn(values, key)) return unusable(field)
  return values[key] as T
}

function toNumber (value: unknown, field: string): number | null {
  if (value === null || value === undefined || value === '') return null
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value.trim())) return Number(value)
  return unusable(field)
}

function toBoolean (value: unknown, field: string): boolean | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'boolean') return value
  if (value === 'true' || value === 1 || value === '1') return true
  if (value === 'false' || value === 0 || value === '0') return false
  return unusable(field)
}

function toStringValue (value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return unusable(field)
}

/** Reads one canonical field off a native record. */
export function readField (native: unknown, name: string, mapping: FieldMapping): unknown {
  const value = pointerGet(native, mapping.from)
  switch (mapping.type) {
    case undefined:
      // A bare pointer copies objects and arrays as they are; scalars take the default type, string.
      if (value !== null && typeof value === 'object') return value
      return toStringValue(value, name)
    case 'string': return toStringValue(value, name)
    case 'number': return toNumber(value, name)
    case 'boolean': return toBoolean(value, name)
    case 'date-dmy': return dmyToIso(value, name)
    case 'map': return mapValue(value, mapping.values ?? {}, name)
  }
}

/** Maps a native record to a canonical one, field by field. Absent values are null. */
export function mapRecord (native: unknown, mappings: Readonly<Record<string, FieldMapping>>): Record<string, unknown> {
  if (native === null || typeof native !== 'object' || Array.isArray(native)) {
    throw problem('upstream.bad_response', 'The registry did not answer with a record')
  }
  const out: Record<string, unknown> = {}
  for (const [name, mapping] of Object.entries(mappings)) out[name] = readField(native, name, mapping)
  return out
}
