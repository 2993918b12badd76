/**
 * Keys an agency publishes at its `jwksUrl`: fetched on first use, kept for `cacheSeconds`, and fetched
 * again when a token names a kid not yet seen — at most once per `refreshCooldownSeconds`, so a stream of
 * tokens with made-up kids cannot turn the gateway into a load generator against the agency.
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

const MAX_JWKS_BYTES = 256 * 1024

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
    if (this.#inflight !== null || now - this.#attemptedAt >= this.#opts.refreshCooldownSeconds * 1000) await this.#refresh(now)
    return this.#keys.get(kid)
  }

  #refresh (now: number): Promise<void> {
    this.#inflight ??= this.#fetch(now).finally(() => { this.#inflight = null })
    return this.#inflight
  }

  async #fetch (now: number): Promise<void> {
    this.#attemptedAt = now
    try {
      const res = await request(this.url, {
        headers: { accept: 'application/jwk-set+json, application/json' },
        headersTimeout: this.#opts.timeoutMs,
        bodyTimeout: this.#opts.timeoutMs,
        signal: AbortSignal.timeout(this.#opts.timeoutMs),
      })
      const text = await res.body.text()
      if (res.statusCode !== 200) throw new Error(`JWKS answered ${res.statusCode}`)
      if (text.length > MAX_JWKS_BYTES) throw new Error('JWKS too large')
      const doc = JSON.parse(text) as { keys?: unknown }
      if (!Array.isArray(doc.keys)) throw new Error('JWKS has no keys array')
      const keys = new Map<string, VerificationKey>()
      for (const jwk of doc.keys as JWK[]) {
        if (jwk === null || typeof jwk !== 'object' || typeof jwk.kid !== 'string' || jwk.kid === '') continue
        if (publicKeyProblem(jwk) !== null) continue
        keys.set(jwk.kid, new VerificationKey(jwk.kid, jwk))
      }
      this.#keys = keys
      this.#fetchedAt = now
    } catch (err) {
      // Keep the keys we had: an agency's JWKS endpoint being down must not lock it out mid-day.
      this.#opts.onError?.(err)
    }
  }
}
