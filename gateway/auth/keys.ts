/**
 * Agency public keys: which algorithms each may verify, and the checks that keep a bad key out of the
 * configuration (private material, weak RSA, unknown curves).
 */
import { constants, createPublicKey, KeyObject, verify, type VerifyKeyObjectInput } from 'node:crypto'
import { importJWK, type CryptoKey, type JWK } from 'jose'

/** CONTRACT §3: the only algorithms a token may use. */
export const ALLOWED_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'] as const
export type Algorithm = typeof ALLOWED_ALGORITHMS[number]

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

/** The algorithms a key can verify; a JWK's own `alg` narrows them. */
export function algorithmsFor (jwk: JWK): Algorithm[] {
  let algs: Algorithm[] = []
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') algs = ['ES256']
  else if (jwk.kty === 'EC' && jwk.crv === 'P-384') algs = ['ES384']
  else if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') algs = ['EdDSA']
  else if (jwk.kty === 'RSA') algs = ['PS256', 'RS256']
  if (typeof jwk.alg === 'string') algs = algs.filter((a) => a === jwk.alg)
  return algs
}

/** Why a public JWK cannot be accepted, or null when it can. */
export function publicKeyProblem (jwk: JWK): string | null {
  const held = PRIVATE_MEMBERS.filter((m) => Object.hasOwn(jwk, m))
  if (held.length > 0) return `holds private key material (${held.join(', ')}); publish only the public key`
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'use must be "sig"'
  if (algorithmsFor(jwk).length === 0) {
    return typeof jwk.alg === 'string'
      ? `alg ${jwk.alg} is not accepted for this key type`
      : 'key type or curve not accepted (EC P-256/P-384, OKP Ed25519 or RSA)'
  }
  try {
    const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' })
    if (jwk.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
      return 'RSA keys need at least 2048 bits'
    }
  } catch {
    return 'not a valid public key'
  }
  return null
}

/**
 * How each algorithm verifies with node:crypto (RFC 7518): JWS ECDSA signatures are the raw r‖s
 * (IEEE P1363), PS256 salts with the digest's length, RS256 pads with PKCS #1 v1.5.
 */
const VERIFY_WITH: Readonly<Record<Algorithm, { hash: string | null, options: Omit<VerifyKeyObjectInput, 'key'> }>> = {
  ES256: { hash: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { hash: 'sha384', options: { dsaEncoding: 'ieee-p1363' } },
  EdDSA: { hash: null, options: {} },
  PS256: {
    hash: 'sha256',
    options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
  },
  RS256: { hash: 'sha256', options: { padding: constants.RSA_PKCS1_PADDING } },
}

/**
 * A verification key, imported (by jose) once per algorithm it is used with. Signatures are checked with
 * node:crypto's KeyObject on libuv's thread pool: measured, WebCrypto's per-call dispatch (algorithm
 * normalisation, a job object and a promise per verification) cost more main-thread time than the check.
 */
export class VerificationKey {
  readonly kid: string
  readonly algorithms: ReadonlySet<string>
  readonly #jwk: JWK
  readonly #imported = new Map<string, Promise<CryptoKey>>()
  readonly #keyObjects = new Map<string, Promise<KeyObject>>()

  constructor (kid: string, jwk: JWK) {
    this.kid = kid
    this.#jwk = jwk
    this.algorithms = new Set(algorithmsFor(jwk))
  }

  cryptoKey (alg: string): Promise<CryptoKey> {
    let key = this.#imported.get(alg)
    if (key === undefined) {
      key = importJWK({ ...this.#jwk, alg }, alg) as Promise<CryptoKey>
      this.#imported.set(alg, key)
    }
    return key
  }

  /** Whether `signature` is this key's signature of `data` with `alg` (one of `algorithms`). */
  async verify (alg: string, data: Buffer, signature: Buffer): Promise<boolean> {
    if (!this.algorithms.has(alg)) return false
    let key = this.#keyObjects.get(alg)
    if (key === undefined) {
      key = this.cryptoKey(alg).then((k) => KeyObject.from(k))
      this.#keyObjects.set(alg, key)
    }
    const how = VERIFY_WITH[alg as Algorithm]
    const input = { key: await key, ...how.options }
    return new Promise((resolve) => {
      try {
        verify(how.hash, data, input, signature, (err, ok) => resolve(err === null && ok))
      } catch {
        resolve(false) // a signature the algorithm cannot even read (e.g. of the wrong length)
      }
    })
  }
}
