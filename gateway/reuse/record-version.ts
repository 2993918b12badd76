/**
 * The version of the records a service's adapter produces: a digest of everything that shapes a kept
 * record — which adapter (and which release of its code), where the registry is, and every operation's
 * request and mapping. Records are kept under it (it is part of their storage name), so a reload that
 * changes a mapping or an upstream can never serve a record kept under the old one (CONTRACT §2).
 *
 * Left out on purpose: timeouts, pool sizes, cache windows, titles and parameter patterns, which change
 * how the gateway calls or describes a registry, not what a record holds.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { ServiceSpec } from '../../core/config-types.js'
import { projectPath } from '../../core/paths.js'

/** The release of this code base: coded adapters' mappings change only with it. */
export const GATEWAY_VERSION: string =
  (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string }).version

// Configurations are frozen and shared by every request of a runtime: one digest per service spec object.
const memo = new WeakMap<ServiceSpec, string>()

export function recordVersion (service: ServiceSpec): string {
  let v = memo.get(service)
  if (v === undefined) {
    const operations = Object.values(service.operations)
      .sort((a, b) => a.id < b.id ? -1 : 1)
      .map((op) => [op.id, op.subject, op.request ?? null, op.notFound, op.response ?? null])
    const code = service.adapter === null ? null : GATEWAY_VERSION
    const shape = [service.adapter, code, service.upstream.baseUrl, service.upstream.headers, operations]
    v = createHash('sha256').update(JSON.stringify(shape)).digest('base64url').slice(0, 16)
    memo.set(service, v)
  }
  return v
}

/** Services whose records a new configuration would not serve: changed or removed. */
export function changedRecordVersions (
  before: Readonly<Record<string, ServiceSpec>>, after: Readonly<Record<string, ServiceSpec>>
): string[] {
  return Object.values(before)
    .filter((s) => {
      const next = after[s.service]
      return next === undefined || recordVersion(next) !== recordVersion(s)
    })
    .map((s) => s.service)
}
