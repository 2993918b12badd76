/**
 * Signed checkpoints: every `checkpointEverySeconds` the chain head (seq, hash) is signed with the
 * gateway's key as a compact JWS and stored. Rewriting history and recomputing every hash after it still
 * breaks the chain at the next checkpoint — and the checkpoint can be verified offline with the gateway's
 * public key alone (`ndx checkpoint verify`).
 */
import { readFile } from 'node:fs/promises'
import { compactVerify, exportJWK, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose'
import type { Sql } from './sql.js'

export interface CheckpointPayload {
  readonly iss: string
  readonly seq: number
  readonly hash: string
  readonly iat: number
}

export class Checkpointer {
  readonly kid: string
  readonly alg: string
  readonly publicJwk: JWK
  readonly #privateKey: CryptoKey
  readonly #publicKey: CryptoKey
  readonly #gatewayId: string

  private constructor (gatewayId: string, kid: string, alg: string, privateKey: CryptoKey, publicKey: CryptoKey, publicJwk: JWK) {
    this.#gatewayId = gatewayId
    this.kid = kid
    this.alg = alg
    this.#privateKey = privateKey
    this.#publicKey = publicKey
    this.publicJwk = publicJwk
  }

  static async fromFile (gatewayId: string, path: string): Promise<Checkpointer> {
    const jwk = JSON.parse(await readFile(path, 'utf8')) as JWK & { kid?: string, alg?: string }
    const alg = jwk.alg ?? (jwk.kty === 'OKP' ? 'EdDSA' : 'ES256')
    const kid = jwk.kid ?? 'ndx-gateway-checkpoint'
    const privateKey = await importJWK(jwk, alg, { extractable: false }) as CryptoKey
    const { d: _d, ...pub } = jwk
    const publicKey = await importJWK({ ...pub, alg }, alg) as CryptoKey
    return new Checkpointer(gatewayId, kid, alg, privateKey, publicKey, { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' })
  }

  sign (seq: number, hash: string, now = Date.now()): Promise<string> {
    return new SignJWT({ seq, hash }).setProtectedHeader({ alg: this.alg, kid: this.kid, typ: 'ndx-checkpoint+jwt' })
      .setIssuer(this.#gatewayId).setIssuedAt(Math.floor(now / 1000)).sign(this.#privateKey)
  }

  /** Verifies a checkpoint's signature and that it states `seq` and `hash`. */
  async verify (jws: string, seq: number, hash: string): Promise<boolean> {
    const payload = await verifyCheckpoint(jws, this.#publicKey)
    return payload !== null && payload.seq === seq && payload.hash === hash
  }

  /** Signs and stores a checkpoint of the current head, if it moved since the last one. */
  async checkpoint (sql: Sql): Promise<{ seq: number, hash: string } | null> {
    const [head] = await sql.query<{ seq: number, hash: string }>('SELECT seq, hash FROM ndx_chain_head')
    if (head === undefined || head.seq === 0) return null
    const [last] = await sql.query<{ seq: number }>('SELECT max(seq) AS seq FROM ndx_checkpoints')
    if (last?.seq != null && last.seq >= head.seq) return null
    const jws = await this.sign(head.seq, head.hash)
    await sql.query('INSERT INTO ndx_checkpoints (seq, hash, time, jws) VALUES ($1, $2, now(), $3) ON CONFLICT (seq) DO NOTHING', [head.seq, head.hash, jws])
    return head
  }
}

/** Offline verification: the payload of a checkpoint signed by `key`, or null. */
export async function verifyCheckpoint (jws: string, key: CryptoKey | JWK): Promise<CheckpointPayload | null> {
  try {
    const k = 'kty' in key ? await importJWK(key as JWK, (key as JWK).alg ?? 'ES256') : key
    const { payload, protectedHeader } = await compactVerify(jws, k as CryptoKey)
    if (protectedHeader.typ !== 'ndx-checkpoint+jwt') return null
    return JSON.parse(Buffer.from(payload).toString('utf8')) as CheckpointPayload
  } catch {
    return null
  }
}
