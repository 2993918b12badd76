/**
 * The agencies of one configuration, with their verification keys ready: keys from the agency file,
 * imported once, and keys from `jwksUrl`, cached (caches carry over a reload when the URL is unchanged).
 */
import type { AgencySpec, GatewayConfig } from '../../core/config-types.js'
import { JwksCache } from './jwks.js'
import { VerificationKey } from './keys.js'

export class AgencyEntry {
  readonly spec: AgencySpec
  readonly #keys: ReadonlyMap<string, VerificationKey>
  readonly jwks: JwksCache | null

  constructor (spec: AgencySpec, jwks: JwksCache | null) {
    this.spec = spec
    this.#keys = new Map(spec.keys.map((k) => [k.kid, new VerificationKey(k.kid, k.jwk)]))
    this.jwks = jwks
  }

  /** The key a token names: from the agency file first, then from its JWKS. */
  async findKey (kid: string): Promise<VerificationKey | undefined> {
    return this.#keys.get(kid) ?? await this.jwks?.get(kid)
  }

  hasRole (role: AgencySpec['roles'][number]): boolean {
    return this.spec.roles.includes(role)
  }
}

export class AgencyDirectory {
  readonly #entries = new Map<string, AgencyEntry>()

  constructor (
    config: GatewayConfig,
    previous?: AgencyDirectory,
    onJwksError?: (err: unknown, agency: string) => void
  ) {
    const opts = config.gateway.jwks
    for (const spec of Object.values(config.agencies)) {
      let jwks: JwksCache | null = null
      if (spec.jwksUrl !== null) {
        const before = previous?.get(spec.id)?.jwks
        jwks =
          before?.url === spec.jwksUrl
            ? before
            : new JwksCache(spec.jwksUrl, { ...opts, onError: (err) => onJwksError?.(err, spec.id) })
      }
      this.#entries.set(spec.id, new AgencyEntry(spec, jwks))
    }
  }

  get (id: string): AgencyEntry | undefined {
    return this.#entries.get(id)
  }
}
