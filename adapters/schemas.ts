/**
 * The canonical record schemas of the built-in services (CONTRACT §5), loaded once from `schemas/canonical`.
 * `$ref`s to the person reference are inlined so each schema stands alone (serializers, OpenAPI).
 */
import { readFileSync } from 'node:fs'
import { projectPath } from '../core/paths.js'
import type { JsonSchema } from './contract.js'

function read (name: string): JsonSchema {
  return JSON.parse(readFileSync(projectPath('schemas', 'canonical', `${name}.json`), 'utf8')) as JsonSchema
}

const personRef = read('person-ref')
delete personRef.$schema
delete personRef.$id

function inline (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(inline)
  if (node === null || typeof node !== 'object') return node
  const obj = node as Record<string, unknown>
  if (obj.$ref === 'urn:ndx:canonical:person-ref') {
    const { $ref: _ref, ...rest } = obj
    return { ...personRef, ...rest }
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) if (k !== '$schema') out[k] = inline(v)
  return out
}

export function canonicalSchema (name: string): JsonSchema {
  return inline(read(name)) as JsonSchema
}

/** Top-level property names of an object schema: the fields a grant may name. */
export function fieldNames (schema: JsonSchema): string[] {
  return Object.keys((schema.properties ?? {}) as Record<string, unknown>)
}
