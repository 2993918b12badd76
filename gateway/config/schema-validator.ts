/**
 * Compiles the configuration JSON Schemas in `schemas/` and turns Ajv's errors into readable issues:
 * a JSON pointer to the offending member and one plain reason.
 */
import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject } from 'ajv'
import { projectPath } from '../paths.js'

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictRequired: false, allowUnionTypes: true })

export interface SchemaIssue { path: string, reason: string }

function describe (e: ErrorObject): SchemaIssue {
  const p = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'additionalProperties': return { path: `${e.instancePath}/${String(p.additionalProperty)}`, reason: 'unknown property' }
    case 'required': return { path: `${e.instancePath}/${String(p.missingProperty)}`, reason: 'is required' }
    case 'propertyNames': return { path: `${e.instancePath}/${String(p.propertyName)}`, reason: 'is not an allowed name' }
    case 'enum': return { path: e.instancePath, reason: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` }
    default: return { path: e.instancePath, reason: e.message ?? e.keyword }
  }
}

/** A validator that applies the schema's defaults in place and returns the issues found (none when valid). */
export function compileSchema (name: string): (data: unknown) => SchemaIssue[] {
  const schema = JSON.parse(readFileSync(projectPath('schemas', `${name}.schema.json`), 'utf8')) as object
  const check = ajv.compile(schema)
  return (data) => {
    if (check(data)) return []
    const errors = check.errors ?? []
    // A failed oneOf reports every branch; the branch errors say more than "must match exactly one schema".
    const seen = new Set<string>()
    const issues: SchemaIssue[] = []
    for (const e of errors) {
      if (e.keyword === 'if') continue
      const issue = describe(e)
      const key = `${issue.path}\0${issue.reason}`
      if (!seen.has(key)) {
        seen.add(key)
        issues.push(issue)
      }
    }
    return issues
  }
}
