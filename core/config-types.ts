/**
 * The typed, frozen configuration every other module receives. Only `load-config.ts` builds it.
 */
import type { JWK } from 'jose'

export type Role = 'consumer' | 'auditor' | 'source' | 'admin'

export interface ParamSpec {
  readonly type: 'string' | 'integer' | 'number' | 'boolean'
  readonly pattern?: string
  readonly enum?: readonly string[]
  readonly minLength?: number
  readonly maxLength?: number
  readonly description?: string
  /** Where the value comes from: a `{name}` in the path, or the query string. */
  readonly in: 'path' | 'query'
  readonly required: boolean
}

export type FieldType = 'string' | 'number' | 'boolean' | 'date-dmy' | 'map'

/** How one canonical field is read off a native record (declarative adapters). */
export interface FieldMapping {
  readonly from: string
  /** `undefined` for a bare pointer: objects and arrays are copied, scalars become strings. */
  readonly type: FieldType | undefined
  readonly values?: Readonly<Record<string, string | number | boolean | null>>
  /** What the field holds, for the OpenAPI document. */
  readonly description?: string
}

export interface UpstreamRequestSpec {
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly recordPointer: string
}

export interface OperationSpec {
  readonly id: string
  readonly service: string
  readonly method: 'GET' | 'POST'
  /** The path below /v1/<service>, with `{param}` placeholders, as written in the file. */
  readonly path: string
  /** The route template logged and documented: `/v1/<service><path>`. */
  readonly route: string
  readonly summary?: string
  readonly params: Readonly<Record<string, ParamSpec>>
  readonly subject: string
  readonly request?: UpstreamRequestSpec
  readonly notFound: readonly number[]
  readonly response?: Readonly<Record<string, FieldMapping>>
  readonly cache: { readonly ttlSeconds: number }
}

export interface UpstreamSpec {
  readonly baseUrl: string
  readonly timeoutMs: number
  readonly connections: number
  /** Batch items per second this registry accepts, across every worker; undefined: not paced. */
  readonly maxRequestsPerSecond?: number
  readonly headers: Readonly<Record<string, string>>
}

export interface ServiceSpec {
  readonly service: string
  readonly title: string
  readonly description?: string
  readonly personalData: boolean
  /** A coded adapter's name, or null for the declarative HTTP adapter. */
  readonly adapter: string | null
  readonly upstream: UpstreamSpec
  readonly operations: Readonly<Record<string, OperationSpec>>
  readonly file: string
}

export interface AgencyKey {
  readonly kid: string
  readonly jwk: JWK
}

export interface Grant {
  readonly fields: '*' | readonly string[]
  readonly purposes: '*' | readonly string[]
}

export interface AgencySpec {
  readonly id: string
  readonly name: string
  readonly roles: readonly Role[]
  readonly keys: readonly AgencyKey[]
  readonly jwksUrl: string | null
  readonly grants: Readonly<Record<string, Grant>>
  readonly sources: readonly string[]
  readonly quota: { readonly perMinute: number } | null
  readonly file: string
}

export interface GatewaySpec {
  readonly id: string
  readonly maxClockSkewSeconds: number
  readonly limits: {
    readonly bodyBytes: number
    readonly tokenBytes: number
    readonly upstreamResponseBytes: number
    readonly batchBodyBytes: number
    /** Time to receive a whole request (head and body); a client slower than this gets 400 request.invalid. */
    readonly requestTimeoutMs: number
  }
  readonly secrets: {
    readonly pseudonymKey: string
    readonly cacheKeys: ReadonlyArray<{ readonly id: string; readonly key: string }>
    readonly checkpointKeyFile?: string
    /** Public JWK files of earlier checkpoint keys, relative to the config directory (key rotation). */
    readonly checkpointPublicKeys: readonly string[]
  }
  readonly jwks: {
    readonly cacheSeconds: number
    readonly refreshCooldownSeconds: number
    readonly timeoutMs: number
  }
  readonly reuse: {
    readonly maxStaleSeconds: number
    readonly waitTimeoutMs: number
    /** How long an in-process copy of a kept record may answer (ms; 0 = none). */
    readonly localMs: number
    readonly localEntries: number
  }
  readonly log: {
    readonly retentionDays: number
    readonly batchMaxRecords: number
    readonly batchMaxWaitMs: number
    readonly checkpointEverySeconds: number
    /** The niceness of a gateway's own log-worker thread (Linux), so requests come first on busy cores. */
    readonly workerNice: number
  }
  /** Batch lookups (CONTRACT §10). */
  readonly batch: {
    readonly resultTtlHours: number
    readonly maxItems: number
    readonly window: number
    readonly concurrency: number
  }
  readonly redis: { readonly keyPrefix: string; readonly commandTimeoutMs: number }
  /** While Redis is unreachable: guard replays in each instance (`local`) or refuse signed requests (503). */
  readonly replay: { readonly whenRedisDown: 'local' | 'refuse' }
  /** Failed verifications an agency may make per subject per (UTC) day before 429 (CONTRACT §5 v1.1). */
  readonly verify: { readonly maxFailedPerSubjectPerDay: number }
  /** Requests per source address per minute that fail before an agency is identified. */
  readonly quota: { readonly unauthenticatedPerMinute: number }
}

export interface GatewayConfig {
  readonly dir: string
  readonly gateway: GatewaySpec
  readonly agencies: Readonly<Record<string, AgencySpec>>
  readonly services: Readonly<Record<string, ServiceSpec>>
  /** A digest of every file read, so operators can tell which config is serving. */
  readonly digest: string
}

/** One reason a configuration directory is refused. */
export interface ConfigIssue {
  /** Relative to the configuration directory. */
  readonly file: string
  /** 1-based line of the member in `file` (or of its closest written ancestor), when known. */
  readonly line?: number
  /** JSON pointer to the member ('' for the whole file). */
  readonly path: string
  /** What is wrong, and what is expected. */
  readonly reason: string
}

/** Where checkers report issues (an array will do). */
export interface IssueSink {
  push (issue: ConfigIssue): unknown
}

/** A configured secret key (`secrets.cacheKeys[].key`): base64 or base64url text. */
export function decodeKey (text: string): Buffer {
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
}
