/**
 * Validating what callers send: path and query params, and bodies, against each operation's schemas.
 * Issues come back in the `errors` shape of a `request.invalid` problem.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { ValidationIssue } from '../../core/errors.js'
import type { ParamSpec } from '../../core/config-types.js'
import type { JsonSchema } from '../../adapters/contract.js'

const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, coerceTypes: false })
addFormats.default(ajv, ['date', 'date-time'])

export type Check = (value: unknown) => ValidationIssue[]

function toIssue (where: ValidationIssue['in'], e: ErrorObject): ValidationIssue {
  const p = e.params as Record<string, unknown>
  const path = e.instancePath.slice(1).replace(/\//g, '.')
  if (e.keyword === 'additionalProperties') {
    return {
      in: where,
      name: [path, String(p.additionalProperty)].filter(Boolean).join('.'),
      reason: 'is not allowed',
    }
  }
  if (e.keyword === 'required') {
    return { in: where, name: [path, String(p.missingProperty)].filter(Boolean).join('.'), reason: 'is required' }
  }
  return { in: where, name: path === '' ? where : path, reason: e.message ?? e.keyword }
}

function wrap (where: ValidationIssue['in'], fn: ValidateFunction): Check {
  return (value) => fn(value) ? [] : (fn.errors ?? []).map((e) => toIssue(where, e))
}

export function compileBodyCheck (schema: JsonSchema): Check {
  return wrap('body', ajv.compile(schema))
}

/** Params arrive as strings; each is checked as a string against its declared pattern, then its type. */
export function compileParamCheck (
  params: Readonly<Record<string, ParamSpec>>
): (values: Record<string, string>) => ValidationIssue[] {
  const checks = Object.entries(params).map(([name, p]) => {
    const string: JsonSchema = { type: 'string' }
    if (p.pattern !== undefined) string.pattern = p.pattern
    if (p.enum !== undefined) string.enum = [...p.enum]
    if (p.minLength !== undefined) string.minLength = p.minLength
    string.maxLength = p.maxLength ?? 256
    const typed =
      p.type === 'integer'
        ? /^-?[0-9]{1,15}$/
        : p.type === 'number'
          ? /^-?[0-9]+(\.[0-9]+)?$/
          : p.type === 'boolean'
            ? /^(true|false)$/
            : null
    return { name, p, fn: ajv.compile(string), typed }
  })
  return (values) => {
    const issues: ValidationIssue[] = []
    for (const { name, p, fn, typed } of checks) {
      const v = values[name]
      if (v === undefined) {
        if (p.required) issues.push({ in: p.in, name, reason: 'is required' })
        continue
      }
      if (typed !== null && !typed.test(v)) {
        issues.push({ in: p.in, name, reason: `must be ${p.type === 'integer' ? 'an' : 'a'} ${p.type}` })
      } else if (!fn(v)) {
        for (const e of fn.errors ?? []) issues.push({ in: p.in, name, reason: e.message ?? e.keyword })
      }
    }
    return issues
  }
}
