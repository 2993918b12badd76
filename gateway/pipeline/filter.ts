/**
 * Step 5, filter: only the granted, asked-for fields leave (CONTRACT §2, minimisation). A verification's
 * answer is booleans already; its record lists the fields it claimed.
 */
import type { CanonicalRecord } from '../../adapters/contract.js'
import type { Access } from './authorize.js'

export interface Filtered {
  readonly data: Record<string, unknown>
  /** The fields answered (for a verification: the fields claimed). */
  readonly fields: string[]
}

export function filter (answer: CanonicalRecord, access: Access): Filtered {
  if (access.fields === null) return { data: answer, fields: Object.keys(access.input.body as object) }
  return { data: pick(answer, access.fields), fields: [...access.fields] }
}

/** A new object holding only the selected fields (absent ones as null). */
export function pick (data: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of fields) out[f] = data[f] ?? null
  return out
}
