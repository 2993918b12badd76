/**
 * Signing requests the way the gateway verifies them (CONTRACT §3): a compact JWS with `typ: ndx+jwt`,
 * bound to the method, the exact request target and the body's SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type KeyObject } from 'jose'

export type SigningAlgorithm = 'ES256' | 'ES384' | 'EdDSA' | 'PS256' | 'RS256'

export interface Signer {
  /** The agency id: the token's `iss`. */
  readonly agencyId: string
  readonly kid: string
  readonly alg: SigningAlgorithm
  readonly key: CryptoKey | KeyObject | Uint8Array
  /** The gateway id: the token's `aud` (default `ndx-gateway`). */
  readonly audience?: string
}

export interface RequestToSign {
  readonly method: string
  /** Path and query exactly as they will be sent, e.g. `/v1/population/citizens/001?fields=fullName`. */
  readonly target: string
  readonly body?: string | Uint8Array
  readonly purpose?: string
  /** The official or person on whose behalf the agency asks. */
  readonly sub?: string
  /** Seconds; defaults to now. */
  readonly iat?: number
  /** Seconds from iat until expiry; omitted by default (the gateway's clock window applies). */
  readonly expiresIn?: number
  readonly jti?: string
}

export const EMPTY_BODY_HASH = '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU'

/** base64url (no padding) SHA-256 of the raw body bytes. */
export function bodyHash (body: string | Uint8Array | undefined): string {
  if (body === undefined || body.length === 0) return EMPTY_BODY_HASH
  return createHash('sha256').update(body).digest('base64url')
}

export function newJti (): string {
  return randomBytes(18).toString('base64url')
}

export async function signRequest (signer: Signer, req: RequestToSign): Promise<string> {
  const iat = req.iat ?? Math.floor(Date.now() / 1000)
  const claims: Record<string, unknown> = {
    iss: signer.agencyId,
    aud: signer.audience ?? 'ndx-gateway',
    iat,
    jti: req.jti ?? newJti(),
    htm: req.method.toUpperCase(),
    htu: req.target,
    bsh: bodyHash(req.body),
  }
  if (req.expiresIn !== undefined) claims.exp = iat + req.expiresIn
  if (req.purpose !== undefined) claims.purpose = req.purpose
  if (req.sub !== undefined) claims.sub = req.sub
  return new SignJWT(claims).setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'ndx+jwt' }).sign(signer.key)
}

/** A private JWK as `ndx keygen` writes it: the key plus its `kid` and `alg`. */
export interface PrivateKeyFile extends JWK {
  kid: string
  alg: SigningAlgorithm
}

export async function signerFromJwk (agencyId: string, jwk: PrivateKeyFile, audience?: string): Promise<Signer> {
  const key = await importJWK(jwk, jwk.alg) as CryptoKey
  return { agencyId, kid: jwk.kid, alg: jwk.alg, key, ...(audience === undefined ? {} : { audience }) }
}

export async function signerFromFile (agencyId: string, path: string, audience?: string): Promise<Signer> {
  return signerFromJwk(agencyId, JSON.parse(await readFile(path, 'utf8')) as PrivateKeyFile, audience)
}

/** A new signing key pair: the private JWK to keep, and the public JWK for the agency's config file. */
export async function generateAgencyKey (
  kid: string,
  alg: SigningAlgorithm = 'ES256'
): Promise<{ privateJwk: PrivateKeyFile; publicJwk: JWK }> {
  const options =
    alg === 'EdDSA'
      ? { crv: 'Ed25519', extractable: true }
      : alg.startsWith('PS') || alg.startsWith('RS')
        ? { modulusLength: 3072, extractable: true }
        : { extractable: true }
  const { privateKey, publicKey } = await generateKeyPair(alg, options)
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg }
  const publicJwk = await exportJWK(publicKey)
  return { privateJwk, publicJwk }
}
