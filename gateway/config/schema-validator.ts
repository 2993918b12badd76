/**
 * Compiles the configuration JSON Schemas in `schemas/` and turns Ajv's errors into readable issues: a JSON
 * pointer to the offending member and one plain reason per mistake, saying what is expected.
 *
 * Ajv reports a failed `oneOf` as every branch's errors plus "must match exactly one schema", three lines
 * for one mistake. When the value's JSON type picks one branch, that branch's errors are what the author
 * needs; otherwise one line says what the member may be ("must be `*` or a list of purpose codes").
 */
import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject } from 'ajv'
import { projectPath } from '../../core/paths.js'
import { suggestion } from './did-you-mean.js'

// verbose: errors carry their schema and data, which the messages below need (the oneOf branches, known names).
const ajv = new Ajv({
  allErrors: true, useDefaults: true, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true,
})

export interface SchemaIssue { path: string, reason: string }

type Schema = Record<string, unknown>

const ARTICLE: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (name: value)',
  null: 'null',
}

function jsonType (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number'
  return typeof v
}

function resolve (root: Schema, s: Schema): Schema {
  const ref = s.$ref
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return s
  let node: unknown = root
  for (const seg of ref.slice(2).split('/')) node = (node as Schema)[seg]
  return resolve(root, node as Schema)
}

function typesOf (s: Schema): string[] {
  if (s.const !== undefined) return [jsonType(s.const)]
  if (Array.isArray(s.enum)) return [...new Set(s.enum.map(jsonType))]
  if (typeof s.type === 'string') return s.type === 'number' ? ['number', 'integer'] : [s.type]
  if (Array.isArray(s.type)) return s.type as string[]
  return []
}

/** A noun phrase for what a schema accepts: its description when it has one. */
function expected (s: Schema): string {
  if (typeof s.description === 'string') return s.description
  if (s.const !== undefined) return `\`${String(s.const)}\``
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => `\`${String(v)}\``).join(', ')}`
  if (Array.isArray(s.required) && Object.keys(s).length === 1) return `\`${(s.required as string[]).join('` and `')}\``
  return typesOf(s).map((t) => ARTICLE[t] ?? t).join(' or ') || 'something else'
}

function describe (e: ErrorObject): SchemaIssue {
  const p = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(p.additionalProperty)
      const known = Object.keys((e.parentSchema as Schema | undefined)?.properties ?? {})
      return { path: `${e.instancePath}/${name}`, reason: `unknown property${suggestion(name, known)}` }
    }
    case 'required':
      return { path: `${e.instancePath}/${String(p.missingProperty)}`, reason: 'is required' }
    case 'propertyNames':
      return { path: `${e.instancePath}/${String(p.propertyName)}`, reason: 'is not an allowed name' }
    case 'enum': {
      const values = (p.allowedValues as unknown[]).map((v) => `\`${String(v)}\``).join(', ')
      return { path: e.instancePath, reason: `must be one of ${values}` }
    }
    case 'const':
      return { path: e.instancePath, reason: `must be \`${String(p.allowedValue)}\`` }
    case 'type': {
      const types = String(p.type)
        .split(',')
        .map((t) => ARTICLE[t] ?? t)
        .join(' or ')
      return { path: e.instancePath, reason: `must be ${types}` }
    }
    case 'pattern': {
      const what = (e.parentSchema as Schema | undefined)?.description
      const hint = typeof what === 'string' ? ` (${what})` : ''
      return { path: e.instancePath, reason: `must match the pattern ${String(p.pattern)}${hint}` }
    }
    default:
      return { path: e.instancePath, reason: e.message ?? e.keyword }
  }
}

function under (path: string, parent: string): boolean {
  return path === parent || path.startsWith(`${parent}/`)
}

/**
 * The errors Ajv found inside the branches of the alternative at `index`: it pushes them just before the
 * alternative's own error, all about the same member or members below it.
 */
function branchErrors (errors: ErrorObject[], index: number): ErrorObject[] {
  const alt = errors[index] as ErrorObject
  const out: ErrorObject[] = []
  for (let j = index - 1; j >= 0 && under((errors[j] as ErrorObject).instancePath, alt.instancePath); j--) {
    out.unshift(errors[j] as ErrorObject)
  }
  return out
}

/** Which branch of `alt` reported `e` (branches may be `$ref`s, whose errors carry the target's path). */
function branchOf (e: ErrorObject, alt: ErrorObject): number {
  return (alt.schema as Schema[]).findIndex((b, i) => e.schemaPath.startsWith(`${alt.schemaPath}/${i}/`) ||
    (typeof b.$ref === 'string' && e.schemaPath.startsWith(`${b.$ref}/`)))
}

function collapse (root: Schema, errors: ErrorObject[]): SchemaIssue[] {
  const out: SchemaIssue[] = []
  const handled = new Set<ErrorObject>()
  // Outermost alternatives last in Ajv's list: walk backwards so an outer oneOf claims its branches first.
  for (let i = errors.length - 1; i >= 0; i--) {
    const alt = errors[i] as ErrorObject
    if (handled.has(alt) || (alt.keyword !== 'oneOf' && alt.keyword !== 'anyOf')) continue
    const nested = branchErrors(errors, i).filter((e) => !handled.has(e))
    for (const e of nested) handled.add(e)
    handled.add(alt)
    const branches = (alt.schema as Schema[]).map((b) => resolve(root, b))
    const type = jsonType(alt.data)
    // A `const` or `enum` branch names values, not a shape: a string that is not `*` is not "meant as `*`".
    const fitting = branches.map((b, n) => [b, n] as const)
      .filter(([b]) => b.const === undefined && b.enum === undefined && typesOf(b).includes(type))
    if (fitting.length === 1) {
      const chosen = (fitting[0] as readonly [Schema, number])[1]
      out.push(...collapse(root, nested.filter((e) => branchOf(e, alt) === chosen)))
    } else if (branches.every((b) => Array.isArray(b.required) && Object.keys(b).length === 1)) {
      out.push({ path: alt.instancePath, reason: `needs ${branches.map(expected).join(' or ')}` })
    } else {
      out.push({ path: alt.instancePath, reason: `must be ${branches.map(expected).join(', or ')}` })
    }
  }
  for (const e of errors) {
    if (!handled.has(e) && e.keyword !== 'if') out.push(describe(e))
  }
  return out
}

/** A validator that applies the schema's defaults in place and returns the issues found (none when valid). */
export function compileSchema (name: string): (data: unknown) => SchemaIssue[] {
  const schema = JSON.parse(readFileSync(projectPath('schemas', `${name}.schema.json`), 'utf8')) as Schema
  const check = ajv.compile(schema)
  return (data) => {
    if (check(data)) return []
    const seen = new Set<string>()
    const issues: SchemaIssue[] = []
    for (const issue of collapse(schema, check.errors ?? [])) {
      const key = `${issue.path}\0${issue.reason}`
      if (!seen.has(key)) {
        seen.add(key)
        issues.push(issue)
      }
    }
    return issues
  }
}
