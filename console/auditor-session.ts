/**
 * What `ndx audit export` and `ndx console` share: loading the auditor's signing key with messages a person
 * can act on, signed GETs of the auditor API, and one wording for the three ways a call fails — the input
 * (exit 2), the gateway's refusal (exit 1), the network (exit 3). Never a stack trace, never key material.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { request, type Dispatcher } from 'undici'
import { projectPath } from '../core/paths.js'
import { signerFromJwk, signRequest, type PrivateKeyFile, type Signer } from '../sdk/index.js'

export const EXIT = { ok: 0, refused: 1, usage: 2, transport: 3 } as const

/** A failure with the exit code it maps to and a message for the person at the terminal. */
export class CliFailure extends Error {
  constructor (message: string, readonly exitCode: 1 | 2 | 3, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'CliFailure'
  }
}

const AGENCY = /^[A-Z0-9][A-Z0-9._-]{1,63}$/
const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
}

/** The signer for `iss` from a private JWK file (or, without one, the demo key, said out loud). */
export async function loadSigner (
  iss: string | undefined, keyPath: string | undefined, warn: (t: string) => void, aud?: string
): Promise<Signer> {
  if (iss === undefined || !AGENCY.test(iss)) {
    throw new CliFailure('--iss must name the agency (e.g. VN.TTCP)', EXIT.usage)
  }
  let path = keyPath
  if (path === undefined) {
    path = projectPath('demo', 'keys', `${iss}.private.jwk.json`)
    if (!existsSync(path)) throw new CliFailure(`--key is required (no demo key for ${iss})`, EXIT.usage)
    warn(`ndx: using the DEMO key ${path} — never use demo keys outside a demo`)
  }
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as { code?: string }).code
    const why = READ_ERRORS[code ?? ''] ?? 'unreadable'
    throw new CliFailure(`cannot read the key file ${path}: ${why}`, EXIT.usage)
  }
  const bad = (why: string): CliFailure => new CliFailure(`the key file ${path} ${why}`, EXIT.usage)
  const asWritten = '--key takes a private JWK as `ndx keygen` writes it'
  let jwk: PrivateKeyFile
  try {
    jwk = JSON.parse(text) as PrivateKeyFile
  } catch {
    throw bad(`is not JSON: ${asWritten}`)
  }
  if (jwk === null || typeof jwk !== 'object' || typeof jwk.kty !== 'string') throw bad(`is not a JWK: ${asWritten}`)
  if (jwk.d === undefined) throw bad('holds a public key: --key needs the agency\'s private key')
  if (typeof jwk.kid !== 'string' || typeof jwk.alg !== 'string') {
    throw bad('has no "kid" or "alg": the gateway picks the key by kid (see `ndx keygen`)')
  }
  try {
    return await signerFromJwk(iss, jwk, aud)
  } catch {
    throw bad(`cannot be used as a ${jwk.alg} signing key`)
  }
}

/** The gateway's base URL: --url, NDX_URL, or the local default; only http(s). */
export function gatewayUrl (url: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  const raw = url ?? env.NDX_URL ?? `http://127.0.0.1:${env.PORT ?? 8080}`
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new CliFailure(`--url ${raw} is not a URL (e.g. http://127.0.0.1:8080)`, EXIT.usage)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CliFailure(`--url must be http or https, not ${parsed.protocol}`, EXIT.usage)
  }
  return raw.replace(/\/+$/, '')
}

const TRANSPORT: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the gateway running there?)',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'the gateway did not answer in time',
  UND_ERR_BODY_TIMEOUT: 'the gateway stopped sending',
  UND_ERR_SOCKET: 'the connection was closed before the reply was complete',
  UND_ERR_ABORTED: 'the request was aborted',
}

/** Why a request got no (complete) HTTP reply, in words. */
export function transportReason (err: unknown): string {
  const e = err as { code?: string, cause?: { code?: string }, errors?: Array<{ code?: string }> }
  const code = e.code ?? e.cause?.code ?? e.errors?.[0]?.code
  return (code === undefined ? undefined : TRANSPORT[code]) ?? 'the connection failed'
}

export function unreachable (base: string, err: unknown): CliFailure {
  return new CliFailure(`cannot reach the gateway at ${base}: ${transportReason(err)}`, EXIT.transport, err)
}

/** A refusal in words, from a problem+json body when there is one. */
export function refusalMessage (iss: string, status: number, body: string): string {
  let p: { code?: string, detail?: string, errors?: Array<{ name?: string, reason?: string }> } = {}
  try { p = JSON.parse(body) as typeof p } catch { /* not a problem document */ }
  const what = `${status}${p.code === undefined ? '' : ` ${p.code}`}${p.detail === undefined ? '' : `: ${p.detail}`}`
  const errors = (p.errors ?? []).map((e) => ` ${e.name ?? '?'} ${e.reason ?? ''}`.trimEnd()).join(';')
  if (status === 401) {
    return `the gateway refused the key of ${iss} (${what}): ` +
      'check that --iss names your agency and --key is its registered private key'
  }
  if (p.code === 'access.role') return `the gateway refused (${what}): ${iss} does not have the auditor role`
  return `the gateway refused (${what})${errors === '' ? '' : ` —${errors}`}`
}

/** A signed GET; resolves with the reply (body unread), or fails as a transport failure. */
export async function signedGet (
  base: string, signer: Signer, target: string, dispatcher?: Dispatcher
): Promise<Dispatcher.ResponseData> {
  const token = await signRequest(signer, { method: 'GET', target })
  try {
    return await request(base + target, {
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json, application/x-ndjson, text/csv' },
      headersTimeout: 60_000,
      bodyTimeout: 300_000,
      ...(dispatcher === undefined ? {} : { dispatcher }),
    })
  } catch (err) {
    throw unreachable(base, err)
  }
}

/** A signed GET answered with JSON; a non-2xx reply is a refusal (exit 1). */
export async function getJson<T> (base: string, signer: Signer, target: string): Promise<T> {
  const res = await signedGet(base, signer, target)
  let text: string
  try {
    text = await res.body.text()
  } catch (err) {
    throw unreachable(base, err)
  }
  if (res.statusCode < 200 || res.statusCode > 299) {
    throw new CliFailure(refusalMessage(signer.agencyId, res.statusCode, text), EXIT.refused)
  }
  try {
    return JSON.parse(text) as T
  } catch {
    const path = target.split('?')[0] ?? ''
    const what = `the server at ${base} answered ${path} with something other than JSON: is it an ndx gateway?`
    throw new CliFailure(what, EXIT.refused)
  }
}
