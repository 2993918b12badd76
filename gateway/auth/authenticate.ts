/**
 * Verifying a signed request (CONTRACT §3). Each check refuses with its own problem code, cheapest first;
 * the jti is remembered only after the signature and every claim have passed, so a forged or misdirected
 * token cannot burn another agency's jti values.
 */
import { createHash } from 'node:crypto'
import { problem } from '../../core/errors.js'
import type { AgencyDirectory, AgencyEntry } from './agencies.js'
import { ALLOWED_ALGORITHMS } from './keys.js'
import { retentionSeconds, type GuardedBy, type ReplayGuard } from './replay-guard.js'

export interface Claims {
  readonly iss: string
  readonly aud: string | string[]
  readonly iat: number
  readonly exp?: number
  readonly jti: string
  readonly htm: string
  readonly htu: string
  readonly bsh: string
  readonly purpose?: string
  readonly sub?: string
}

export interface Caller {
  readonly agency: AgencyEntry
  readonly kid: string
  readonly purpose: string | null
  /** The `sub` claim: who the agency acts for. Pseudonymised before it is recorded; never logged. */
  readonly onBehalfOf: string | null
}

export interface AuthSettings {
  readonly audience: string
  readonly maxClockSkewSeconds: number
  readonly maxTokenBytes: number
  /** `gateway.yaml` `replay.whenRedisDown`: guard locally (default) or refuse with 503. */
  readonly whenRedisDown?: 'local' | 'refuse'
}

/** What the verifier needs to know of the HTTP request. */
export interface SignedRequest {
  readonly authorization: string | undefined
  /** How many Authorization headers were sent: more than one is ambiguous and refused. */
  readonly authorizationCount?: number
  readonly method: string
  /** The request target exactly as sent: path and query. */
  readonly target: string
  readonly body: Buffer | undefined
}

/** Partial identification, recorded even when a later check refuses the request. */
export interface AuthProgress {
  /** Set only once the signature verified: the agency's own words from then on. */
  client: string | null
  /** The token's `iss` as claimed, before anything verified (recorded only if it never does). */
  claimedClient: string | null
  keyId: string | null
  purpose: string | null
  onBehalfOf: string | null
  /** Who guarded the jti: set once the replay check ran. */
  replayGuard?: GuardedBy | null
}

const MAX_LIFETIME_SECONDS = 300
const ALGORITHMS: ReadonlySet<string> = new Set(ALLOWED_ALGORITHMS)
const BEARER = /^Bearer +([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/i
const JTI = /^[A-Za-z0-9_-]{16,128}$/
const PURPOSE = /^[a-z0-9][a-z0-9._-]{0,63}$/
const EMPTY_BODY_HASH = '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU'

function decodeJson (segment: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    throw problem('auth.malformed', `The token's ${what} is not base64url JSON`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw problem('auth.malformed', `The token's ${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

function isTyp (typ: unknown): boolean {
  return typeof typ === 'string' && /^(application\/)?ndx\+jwt$/i.test(typ)
}

/** A target as quoted back in a problem detail: long enough to compare, never unbounded. */
function clip (target: string): string {
  return target.length <= 512 ? target : `${target.slice(0, 512)}…`
}

export function hashBody (body: Buffer | undefined): string {
  return body === undefined || body.length === 0
    ? EMPTY_BODY_HASH
    : createHash('sha256').update(body).digest('base64url')
}

export async function authenticate (
  req: SignedRequest,
  agencies: AgencyDirectory,
  guard: ReplayGuard,
  settings: AuthSettings,
  progress: AuthProgress,
  nowMs = Date.now()
): Promise<Caller> {
  const header = req.authorization
  if (header === undefined || header === '') throw problem('auth.missing', 'Send Authorization: Bearer <token>')
  if ((req.authorizationCount ?? 1) > 1) throw problem('auth.malformed', 'Send exactly one Authorization header')
  if (header.length > settings.maxTokenBytes + 7) throw problem('auth.malformed', 'The token is too large')
  const parts = BEARER.exec(header)
  if (parts === null) throw problem('auth.malformed', 'Expected Authorization: Bearer <compact JWS>')

  const protectedHeader = decodeJson(parts[1]!, 'header')
  const alg = protectedHeader.alg
  if (typeof alg !== 'string' || !ALGORITHMS.has(alg)) {
    throw problem('auth.algorithm', `Accepted algorithms: ${ALLOWED_ALGORITHMS.join(', ')}`)
  }
  if (!isTyp(protectedHeader.typ)) throw problem('auth.malformed', 'The token header needs typ "ndx+jwt"')
  const kid = protectedHeader.kid
  if (typeof kid !== 'string' || kid === '' || kid.length > 128) {
    throw problem('auth.malformed', 'The token header needs a kid')
  }
  if ('crit' in protectedHeader || 'b64' in protectedHeader) {
    throw problem('auth.malformed', 'The token header has unsupported parameters')
  }
  if (parts[3] === '') throw problem('auth.signature', 'The token is not signed')

  const claims = decodeJson(parts[2]!, 'claims')
  if (typeof claims.iss !== 'string' || claims.iss === '') {
    throw problem('auth.malformed', 'The token needs an iss claim')
  }
  progress.claimedClient = claims.iss.slice(0, 128)
  const agency = agencies.get(claims.iss)
  if (agency === undefined) throw problem('auth.unknown_client', 'No agency is registered under this iss')
  const key = await agency.findKey(kid)
  if (key === undefined) throw problem('auth.unknown_key', 'The agency has no key with this kid')
  if (!key.algorithms.has(alg)) throw problem('auth.algorithm', `Key ${kid} does not sign with ${alg}`)

  // What was signed: the protected header and the claims exactly as sent (JWS compact serialization).
  const signingInput = Buffer.from(`${parts[1]!}.${parts[2]!}`)
  let verified: boolean
  try {
    verified = await key.verify(alg, signingInput, Buffer.from(parts[3]!, 'base64url'))
  } catch {
    verified = false
  }
  if (!verified) throw problem('auth.signature', 'The signature does not verify with the named key')
  // Attribution only now: a token signed by anyone else must not put a record in this agency's name.
  progress.client = agency.spec.id
  progress.keyId = kid

  // From here the claims are the agency's own words.
  const aud = claims.aud
  const audOk = aud === settings.audience || (Array.isArray(aud) && aud.includes(settings.audience))
  if (!audOk) throw problem('auth.audience', `The token's aud must be ${settings.audience}`)

  const now = nowMs / 1000
  const { iat, exp } = claims
  if (typeof iat !== 'number' || !Number.isFinite(iat)) {
    throw problem('auth.malformed', 'The token needs a numeric iat claim')
  }
  if (Math.abs(now - iat) > settings.maxClockSkewSeconds) {
    throw problem('auth.expired', `iat must be within ${settings.maxClockSkewSeconds} seconds of the gateway's clock`)
  }
  if (exp !== undefined) {
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw problem('auth.malformed', 'exp must be numeric')
    if (exp <= now) throw problem('auth.expired', 'The token has expired')
    if (exp > iat + MAX_LIFETIME_SECONDS) {
      throw problem('auth.malformed', `exp may be at most ${MAX_LIFETIME_SECONDS} seconds after iat`)
    }
  }

  const { jti, htm, htu, bsh, purpose, sub } = claims
  if (typeof jti !== 'string' || !JTI.test(jti)) {
    throw problem('auth.malformed', 'jti must be 16-128 characters of [A-Za-z0-9_-]')
  }
  if (typeof htm !== 'string' || typeof htu !== 'string' || typeof bsh !== 'string') {
    throw problem('auth.malformed', 'The token needs htm, htu and bsh claims')
  }
  if (purpose !== undefined && (typeof purpose !== 'string' || !PURPOSE.test(purpose))) {
    throw problem('auth.malformed', 'purpose must be a purpose code')
  }
  if (sub !== undefined && (typeof sub !== 'string' || sub === '' || sub.length > 256)) {
    throw problem('auth.malformed', 'sub must be a non-empty string')
  }
  progress.purpose = purpose ?? null
  progress.onBehalfOf = sub ?? null

  // A binding refusal says what the gateway saw (CONTRACT §3 v1.1), so a client can find its own mistake.
  const saw = 'the gateway received'
  if (htm !== req.method) throw problem('auth.binding', `htm does not match the request method: ${saw} ${req.method}`)
  if (htu !== req.target) {
    throw problem('auth.binding', `htu does not match the request target: ${saw} ${JSON.stringify(clip(req.target))}`)
  }
  const computed = hashBody(req.body)
  if (bsh !== computed) {
    const bytes = req.body?.length ?? 0
    throw problem(
      'auth.binding',
      `bsh does not match the request body: the gateway computed ${computed} (${bytes} bytes)`
    )
  }

  // Remember the jti for as long as any configuration could accept its token (a later reload may widen the
  // window); a local mirror of the shared guard needs only the current window.
  const verdict = await guard.check(agency.spec.id, jti, {
    ttlSeconds: retentionSeconds(iat, now),
    mirrorSeconds: Math.max(1, Math.ceil(iat + 2 * settings.maxClockSkewSeconds - now)),
    whenRedisDown: settings.whenRedisDown ?? 'local',
  })
  progress.replayGuard = verdict.guard
  if (!verdict.fresh) throw problem('auth.replayed', 'This token has been used already')

  return { agency, kid, purpose: purpose ?? null, onBehalfOf: sub ?? null }
}
