/**
 * Turns validated raw files (defaults applied by the schemas) into the typed specs the gateway uses.
 */
import type { JWK } from 'jose'
import type {
  AgencySpec,
  FieldMapping,
  FieldType,
  GatewaySpec,
  Grant,
  OperationSpec,
  ParamSpec,
  Role,
  ServiceSpec,
} from '../../core/config-types.js'

export type RawGateway = GatewaySpec

export interface RawParam {
  type: ParamSpec['type']
  pattern?: string
  enum?: string[]
  minLength?: number
  maxLength?: number
  required?: boolean
  description?: string
}
export interface RawOperation {
  method: 'GET' | 'POST'
  path: string
  summary?: string
  params: Record<string, RawParam>
  subject: string
  request?: { method: 'GET' | 'POST'; path: string; query?: Record<string, string>; recordPointer?: string }
  notFound: number[]
  response?: Record<
    string,
    | string
    | {
      from: string
      type?: FieldType
      values?: Record<string, string | number | boolean | null>
      description?: string
    }
  >
  cache: { ttlSeconds: number }
}
export interface RawService {
  service: string
  title?: string
  description?: string
  personalData: boolean
  adapter?: string
  upstream: {
    baseUrl: string
    timeoutMs: number
    connections: number
    maxRequestsPerSecond?: number
    headers: Record<string, string>
  }
  operations: Record<string, RawOperation>
}
export interface RawAgency {
  id: string
  name: string
  roles: Role[]
  keys?: Array<{ kid: string, jwk: JWK }>
  jwksUrl?: string
  grants: Record<string, { fields?: '*' | string[], purposes?: '*' | string[] }>
  sources: string[]
  quota?: { perMinute: number }
}

/** The `{name}` placeholders of a path template, in order. */
export function placeholders (template: string): string[] {
  return [...template.matchAll(/\{([A-Za-z][A-Za-z0-9]*)\}/g)].map((m) => m[1] as string)
}

export function toGateway (raw: RawGateway): GatewaySpec {
  return {
    id: raw.id,
    maxClockSkewSeconds: raw.maxClockSkewSeconds,
    limits: { ...raw.limits },
    secrets: {
      ...raw.secrets,
      cacheKeys: raw.secrets.cacheKeys.map((k) => ({ ...k })),
      checkpointPublicKeys: [...(raw.secrets.checkpointPublicKeys ?? [])],
    },
    jwks: { ...raw.jwks },
    reuse: { ...raw.reuse },
    log: { ...raw.log },
    batch: { ...raw.batch },
    redis: { ...raw.redis },
    replay: { ...raw.replay },
    verify: { ...raw.verify },
    quota: { ...raw.quota },
  }
}

function toMapping (
  m:
    | string
    | {
      from: string
      type?: FieldType
      values?: Record<string, string | number | boolean | null>
      description?: string
    }
): FieldMapping {
  if (typeof m === 'string') return { from: m, type: undefined }
  return {
    from: m.from,
    type: m.type ?? 'string',
    ...(m.values === undefined ? {} : { values: { ...m.values } }),
    ...(m.description === undefined ? {} : { description: m.description }),
  }
}

function toOperation (service: string, id: string, raw: RawOperation): OperationSpec {
  const inPath = new Set(placeholders(raw.path))
  const params: Record<string, ParamSpec> = {}
  for (const [name, p] of Object.entries(raw.params)) {
    const where = inPath.has(name) ? 'path' : 'query'
    params[name] = { ...p, in: where, required: where === 'path' ? true : p.required === true }
  }
  const op: OperationSpec = {
    id,
    service,
    method: raw.method,
    path: raw.path,
    route: `/v1/${service}${raw.path}`,
    ...(raw.summary === undefined ? {} : { summary: raw.summary }),
    params,
    subject: raw.subject,
    ...(raw.request === undefined
      ? {}
      : {
          request: {
            method: raw.request.method,
            path: raw.request.path,
            query: { ...(raw.request.query ?? {}) },
            recordPointer: raw.request.recordPointer ?? '',
          },
        }),
    notFound: [...raw.notFound],
    ...(raw.response === undefined
      ? {}
      : { response: Object.fromEntries(Object.entries(raw.response).map(([k, m]) => [k, toMapping(m)])) }),
    cache: { ttlSeconds: raw.cache.ttlSeconds },
  }
  return op
}

export function toService (raw: RawService, file: string): ServiceSpec {
  return {
    service: raw.service,
    title: raw.title ?? raw.service,
    ...(raw.description === undefined ? {} : { description: raw.description }),
    personalData: raw.personalData,
    adapter: raw.adapter ?? null,
    upstream: { ...raw.upstream, headers: { ...raw.upstream.headers } },
    operations: Object.fromEntries(
      Object.entries(raw.operations).map(([id, op]) => [id, toOperation(raw.service, id, op)])
    ),
    file,
  }
}

export function toAgency (raw: RawAgency, file: string): AgencySpec {
  const grants: Record<string, Grant> = {}
  for (const [key, g] of Object.entries(raw.grants)) {
    grants[key] = {
      fields: g.fields === undefined || g.fields === '*' ? '*' : [...g.fields],
      purposes: g.purposes === undefined ? [] : g.purposes === '*' ? '*' : [...g.purposes],
    }
  }
  return {
    id: raw.id,
    name: raw.name,
    roles: [...raw.roles],
    keys: (raw.keys ?? []).map((k) => ({ kid: k.kid, jwk: { ...k.jwk } })),
    jwksUrl: raw.jwksUrl ?? null,
    grants,
    sources: [...raw.sources],
    quota: raw.quota === undefined ? null : { perMinute: raw.quota.perMinute },
    file,
  }
}

const strings = (v: unknown): string[] => Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * What can be checked of an agency file that failed its schema: the members that have the right shape,
 * so grants, keys and sources are still checked against the other files (one run shows every mistake).
 * Members of the wrong shape are left out; their schema issue already names them. Null if not an object.
 */
export function salvageAgency (data: unknown, file: string): AgencySpec | null {
  if (!isObject(data)) return null
  const grants: Record<string, Grant> = {}
  for (const [key, g] of Object.entries(isObject(data.grants) ? data.grants : {})) {
    if (!isObject(g) || !/^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/.test(key)) continue
    // A member of the wrong shape counts as "*": its schema issue is the one to report.
    grants[key] = {
      fields: Array.isArray(g.fields) ? strings(g.fields) : '*',
      purposes: Array.isArray(g.purposes) ? strings(g.purposes) : '*',
    }
  }
  const keys = (Array.isArray(data.keys) ? data.keys : []).filter((k): k is { kid: string, jwk: JWK } =>
    isObject(k) && typeof k.kid === 'string' && isObject(k.jwk))
  return {
    id: typeof data.id === 'string' ? data.id : file,
    name: typeof data.name === 'string' ? data.name : '',
    roles: strings(data.roles) as Role[],
    keys: keys.map((k) => ({ kid: k.kid, jwk: { ...k.jwk } })),
    jwksUrl: typeof data.jwksUrl === 'string' ? data.jwksUrl : null,
    grants,
    sources: strings(data.sources),
    quota: null,
    file,
  }
}
