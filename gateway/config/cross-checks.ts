/**
 * Checks that need more than one file, or more than a schema can say: keys that really are public keys,
 * grants that name real operations and fields, routes that do not collide, secrets of the right size.
 */
import { CODED_ADAPTERS, operationShape } from '../../adapters/index.js'
import { publicKeyProblem } from '../auth/keys.js'
import { decodeKey, type AgencySpec, type IssueSink, type ServiceSpec } from '../../core/config-types.js'
import { suggestion } from './did-you-mean.js'
import { placeholders, type RawGateway } from './normalize.js'

export function checkGateway (raw: RawGateway, file: string, issues: IssueSink): void {
  const ids = new Set<string>()
  raw.secrets.cacheKeys.forEach((k, i) => {
    if (decodeKey(k.key).length !== 32) {
      issues.push({ file, path: `/secrets/cacheKeys/${i}/key`, reason: 'must be 32 bytes, base64-encoded' })
    }
    if (ids.has(k.id)) issues.push({ file, path: `/secrets/cacheKeys/${i}/id`, reason: `key id ${k.id} is used twice` })
    ids.add(k.id)
  })
}

function checkPattern (pattern: string | undefined, file: string, path: string, issues: IssueSink): void {
  if (pattern === undefined) return
  try {
    // eslint-disable-next-line no-new
    new RegExp(pattern, 'u')
  } catch {
    issues.push({ file, path, reason: 'is not a valid regular expression' })
  }
}

export function checkServices (services: Record<string, ServiceSpec>, issues: IssueSink): void {
  for (const svc of Object.values(services)) {
    const file = svc.file
    const coded = svc.adapter === null ? null : CODED_ADAPTERS[svc.adapter]
    if (svc.adapter !== null && coded === undefined) {
      issues.push({
        file,
        path: '/adapter',
        reason: `no coded adapter named ${svc.adapter} (known: ${Object.keys(CODED_ADAPTERS).join(', ')})`,
      })
      continue
    }
    if (coded != null) {
      for (const id of Object.keys(coded.operations)) {
        if (svc.operations[id] === undefined) {
          issues.push({ file, path: `/operations/${id}`, reason: `is required by the ${coded.name} adapter` })
        }
      }
    }
    const routes = new Map<string, string>()
    for (const op of Object.values(svc.operations)) {
      const at = `/operations/${op.id}`
      if (coded != null) {
        if (coded.operations[op.id] === undefined) {
          issues.push({ file, path: at, reason: `is not an operation of the ${coded.name} adapter` })
        }
        if (op.request !== undefined || op.response !== undefined) {
          issues.push({ file, path: at, reason: 'a coded adapter maps its own records; remove request and response' })
        }
      } else {
        if (op.request === undefined) {
          issues.push({ file, path: `${at}/request`, reason: 'is required for the declarative HTTP adapter' })
        }
        if (op.response === undefined) {
          issues.push({ file, path: `${at}/response`, reason: 'is required for the declarative HTTP adapter' })
        }
      }
      for (const name of placeholders(op.path)) {
        if (op.params[name] === undefined) {
          issues.push({ file, path: `${at}/params/${name}`, reason: 'is used in the path but not declared' })
        }
      }
      if (op.params[op.subject] === undefined) {
        issues.push({ file, path: `${at}/subject`, reason: `names no declared param (${op.subject})` })
      }
      if (op.request !== undefined) {
        const used = [...placeholders(op.request.path), ...Object.values(op.request.query).flatMap(placeholders)]
        for (const name of used) {
          if (op.params[name] === undefined) {
            issues.push({ file, path: `${at}/request`, reason: `uses {${name}}, which is not a declared param` })
          }
        }
      }
      for (const [name, p] of Object.entries(op.params)) {
        checkPattern(p.pattern, file, `${at}/params/${name}/pattern`, issues)
      }
      for (const [name, m] of Object.entries(op.response ?? {})) {
        // A map without values fails every lookup at run time; values without a map would be silently ignored.
        const path = `${at}/response/${name}/values`
        if (m.type === 'map' && m.values === undefined) {
          issues.push({
            file,
            path,
            reason: 'is required with type: map (the native codes and the canonical value of each)',
          })
        }
        if (m.type !== 'map' && m.values !== undefined) {
          const reason = `is only used with type: map (this field is type: ${m.type ?? 'string'}); ` +
          'add type: map or remove values'
          issues.push({ file, path, reason })
        }
      }
      const routeKey = `${op.method} ${op.path.replace(/\{[^}]+\}/g, '{}')}`
      const clash = routes.get(routeKey)
      if (clash !== undefined) {
        issues.push({ file, path: `${at}/path`, reason: `has the same route as operation ${clash}` })
      }
      routes.set(routeKey, op.id)
    }
  }
}

export function checkAgencies (
  agencies: Record<string, AgencySpec>,
  services: Record<string, ServiceSpec>,
  issues: IssueSink,
  broken: ReadonlySet<string> = new Set()
): void {
  for (const agency of Object.values(agencies)) {
    const file = agency.file
    const kids = new Set<string>()
    agency.keys.forEach((k, i) => {
      if (kids.has(k.kid)) issues.push({ file, path: `/keys/${i}/kid`, reason: `kid ${k.kid} is used twice` })
      kids.add(k.kid)
      const why = publicKeyProblem(k.jwk)
      if (why !== null) issues.push({ file, path: `/keys/${i}/jwk`, reason: why })
    })
    const grantKeys = Object.keys(agency.grants)
    if (grantKeys.length > 0 && !agency.roles.includes('consumer')) {
      issues.push({ file, path: '/roles', reason: 'grants need the consumer role' })
    }
    for (const key of grantKeys) {
      const grant = agency.grants[key]
      const [serviceName, opId] = key.split('.') as [string, string]
      const svc = services[serviceName]
      const op = svc?.operations[opId]
      const at = `/grants/${key}`
      if (broken.has(serviceName)) continue
      if (svc === undefined || op === undefined) {
        issues.push({
          file,
          path: at,
          reason:
            svc === undefined
              ? `no service ${serviceName} is configured${suggestion(serviceName, Object.keys(services))}`
              : `service ${serviceName} has no operation ${opId}${suggestion(opId, Object.keys(svc.operations))}`,
        })
        continue
      }
      const shape = operationShape(svc, op)
      if (shape !== undefined && grant !== undefined && grant.fields !== '*') {
        for (const f of grant.fields) {
          if (shape.fields.includes(f)) continue
          issues.push({
            file,
            path: `${at}/fields`,
            reason: `${f} is not a field of ${key}${suggestion(f, shape.fields)}`,
          })
        }
      }
      if (svc.personalData && grant !== undefined && grant.purposes !== '*' && grant.purposes.length === 0) {
        issues.push({
          file,
          path: `${at}/purposes`,
          reason: `${serviceName} holds personal data: list the purposes this grant serves`,
        })
      }
    }
    if (agency.sources.length > 0 && !agency.roles.includes('source')) {
      issues.push({ file, path: '/roles', reason: 'sources need the source role' })
    }
    agency.sources.forEach((s, i) => {
      if (services[s] !== undefined || broken.has(s)) return
      issues.push({
        file,
        path: `/sources/${i}`,
        reason: `no service ${s} is configured${suggestion(s, Object.keys(services))}`,
      })
    })
  }
}
