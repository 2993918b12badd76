/**
 * Keys an agency publishes at its `jwksUrl`: fetched on first use, kept for `cacheSeconds`, and fetched
 * again when a token names a kid not yet seen — at most once per `refreshCooldownSeconds` per agency, so a
 * stream of tokens with made-up kids (no signature is checked before the key is found) cannot turn the
 * gateway into a load generator against the agency. A fetch is https only (http to loopback), has one
 * deadline, and stops reading past 256 KiB: the document is never held whole before its size is known.
 */
import { request } from 'undici'
import type { JWK } from 'jose'
import { publicKeyProblem, VerificationKey } from './keys.js'

export interface JwksOptions {
  readonly cacheSeconds: number
  readonly refreshCooldownSeconds: number
  readonly timeoutMs: number
  readonly onError?: (err: unknown) => void
}

/** CONTRACT §3 v1.1: a larger document is refused while it is being read. */
export const MAX_JWKS_BYTES = 256 * 1024

function isLoopback (host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/** Why keys may not be fetched from this URL (CONTRACT §3 v1.1: https, or http to loopback only), or null. */
export function jwksUrlProblem (url: string): string | null {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return 'is not a URL'
  }
  if (u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname))) return null
  return 'must use https (http only for loopback addresses)'
}

/** The usable keys of a JWKS document; errors say what is wrong, never quote the document. */
function parseJwks (bytes: Buffer): Map<string, VerificationKey> {
  let doc: { keys?: unknown }
  try {
    doc = JSON.parse(bytes.toString('utf8')) as { keys?: unknown }
  } catch {
    throw new Error('JWKS is not JSON')
  }
  if (doc === null || typeof doc !== 'object' || !Array.isArray(doc.keys)) throw new Error('JWKS has no keys array')
  const keys = new Map<string, VerificationKey>()
  for (const jwk of doc.keys as JWK[]) {
    if (jwk === null || typeof jwk !== 'object' || typeof jwk.kid !== 'string' || jwk.kid === '') continue
    if (publicKeyProblem(jwk) !== null) continue
    keys.set(jwk.kid, new VerificationKey(jwk.kid, jwk))
  }
  return keys
}

export class JwksCache {
  readonly url: string
  readonly #opts: JwksOptions
  #keys = new Map<string, VerificationKey>()
  #fetchedAt = 0
  #attemptedAt = 0
  #inflight: Promise<void> | null = null

  constructor (url: string, opts: JwksOptions) {
    this.url = url
    this.#opts = opts
  }

  async get (kid: string, now = Date.now()): Promise<VerificationKey | undefined> {
    const fresh = now - this.#fetchedAt < this.#opts.cacheSeconds * 1000
    if (fresh && this.#keys.has(kid)) return this.#keys.get(kid)
    // Expired, or a kid not seen yet: fetch again, unless we tried moments ago (then answer from what we have).
    if (this.#inflight !== null || now - this.#attemptedAt >= this.#opts.refreshCooldownSeconds * 1000) {
      await this.#refresh(now)
    }
    return this.#keys.get(kid)
  }

  #refresh (now: number): Promise<void> {
    this.#inflight ??= this.#fetch(now).finally(() => { this.#inflight = null })
    return this.#inflight
  }

  async #fetch (now: number): Promise<void> {
    this.#attemptedAt = now
    try {
      const refused = jwksUrlProblem(this.url)
      if (refused !== null) throw new Error(`jwksUrl ${refused}`)
      const keys = parseJwks(await this.#download())
      this.#keys = keys
      this.#fetchedAt = now
    } catch (err) {
      // Keep the keys we had: an agency's JWKS endpoint being down must not lock it out mid-day.
      this.#opts.onError?.(err)
    }
  }

  /** The document's bytes, read under one deadline and refused as soon as they pass MAX_JWKS_BYTES. */
  async #download (): Promise<Buffer> {
    const res = await request(this.url, {
      headers: { accept: 'application/jwk-set+json, application/json' },
      headersTimeout: this.#opts.timeoutMs,
      bodyTimeout: this.#opts.timeoutMs,
      // One deadline for headers and body: a document dripped a byte at a time is cut off too.
      signal: AbortSignal.timeout(this.#opts.timeoutMs),
    })
    const chunks: Buffer[] = []
    let size = 0
    try {
      if (res.statusCode !== 200) throw new Error(`JWKS answered ${res.statusCode}`)
      if (Number(res.headers['content-length']) > MAX_JWKS_BYTES) throw new Error('JWKS larger than 256 KiB (declared)')
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length
        if (size > MAX_JWKS_BYTES) throw new Error('JWKS larger than 256 KiB')
        chunks.push(chunk as Buffer)
      }
    } finally {
      // Stops reading (and closes the connection) when we gave up before the end.
      if (!res.body.readableEnded) res.body.on('error', () => {}).destroy()
    }
    return Buffer.concat(chunks)
  }
}
