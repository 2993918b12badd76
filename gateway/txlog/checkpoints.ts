/**
 * Signed checkpoints: every `checkpointEverySeconds` the chain head (seq, hash) is signed with the
 * gateway's key as a compact JWS and stored. Each checkpoint also signs the previous one's (seq, hash), so
 * checkpoints form a chain of their own: deleting the later ones is seen (the interval says one was due),
 * deleting one in the middle breaks the next one's link. A checkpoint names its key (`kid`); the public
 * keys of earlier checkpoint keys stay listed (`secrets.checkpointPublicKeys`), so a rotation keeps every
 * checkpoint verifiable, offline too (`ndx checkpoint verify`).
 */
import { readFile } from 'node:fs/promises'
import { compactVerify, decodeProtectedHeader, exportJWK, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose'
import { lateMs, retainedFrom, TamperSuspected, verifySpan, type ChainPoint } from './chain-verify.js'
import type { Sql } from './sql.js'

export const CHECKPOINT_TYP = 'ndx-checkpoint+jwt'

export interface CheckpointPayload {
  readonly iss: string
  readonly seq: number
  readonly hash: string
  readonly iat: number
  /** The checkpoint before this one; null for the first. Absent on checkpoints signed before v1.1. */
  readonly prev?: { readonly seq: number, readonly hash: string } | null
}

export interface StoredCheckpoint {
  readonly seq: number
  readonly hash: string
  readonly jws: string
}

async function readJwk (path: string): Promise<JWK & { kid?: string, alg?: string }> {
  return JSON.parse(await readFile(path, 'utf8')) as JWK & { kid?: string, alg?: string }
}

function algOf (jwk: JWK): string {
  return jwk.alg ?? (jwk.kty === 'OKP' ? 'EdDSA' : 'ES256')
}

/** The kid a checkpoint's header names, or null if it is not a JWS. */
export function kidOf (jws: string): string | null {
  try {
    const kid = decodeProtectedHeader(jws).kid
    return typeof kid === 'string' ? kid : null
  } catch {
    return null
  }
}

/** Public checkpoint keys by kid: the current one and the ones listed from earlier rotations. */
export class CheckpointKeys {
  readonly #keys = new Map<string, { jwk: JWK, key: Promise<CryptoKey> }>()

  add (jwk: JWK & { kid?: string }): this {
    const alg = algOf(jwk)
    const { d: _d, ...pub } = jwk
    const kid = jwk.kid ?? 'ndx-gateway-checkpoint'
    const pubJwk: JWK = { ...pub, kid, alg, use: 'sig' }
    const key = importJWK(pubJwk, alg) as Promise<CryptoKey>
    key.catch(() => {})
    if (!this.#keys.has(kid)) this.#keys.set(kid, { jwk: pubJwk, key })
    return this
  }

  /** Reads public JWK files (rotation: the earlier keys). */
  static async fromFiles (paths: readonly string[], first?: JWK): Promise<CheckpointKeys> {
    const keys = new CheckpointKeys()
    if (first !== undefined) keys.add(first)
    for (const p of paths) keys.add(await readJwk(p))
    return keys
  }

  get size (): number {
    return this.#keys.size
  }

  /** A JWKS of every key (GET /v1/audit/keys). */
  jwks (): { keys: JWK[] } {
    return { keys: [...this.#keys.values()].map((k) => k.jwk) }
  }

  /** The payload of a JWS of type `typ` signed by one of these keys (chosen by its kid), or null. */
  async verify<T> (jws: string, typ = CHECKPOINT_TYP): Promise<T | null> {
    const kid = kidOf(jws)
    const entry = kid === null ? undefined : this.#keys.get(kid)
    if (entry === undefined) return null
    return verifyJws<T>(jws, await entry.key, typ)
  }
}

export class Checkpointer {
  readonly kid: string
  readonly alg: string
  readonly publicJwk: JWK
  readonly #privateKey: CryptoKey
  readonly #gatewayId: string
  /** Keys whose checkpoints this one may extend: its own and the earlier ones (rotation). */
  #trusted: CheckpointKeys
  /** The last checkpoint this process signed or verified: the database must still show it, or a later one. */
  #lastSigned: ChainPoint | null = null

  private constructor (gatewayId: string, kid: string, alg: string, privateKey: CryptoKey, publicJwk: JWK) {
    this.#gatewayId = gatewayId
    this.kid = kid
    this.alg = alg
    this.#privateKey = privateKey
    this.publicJwk = publicJwk
    this.#trusted = new CheckpointKeys().add(publicJwk)
  }

  /** The keys it verifies checkpoints and traces with before extending them. */
  get trusted (): CheckpointKeys {
    return this.#trusted
  }

  /** Trusts the checkpoints of earlier keys too (`secrets.checkpointPublicKeys`), so a rotation extends them. */
  trust (keys: CheckpointKeys): this {
    for (const jwk of keys.jwks().keys) this.#trusted.add(jwk)
    return this
  }

  static async fromFile (gatewayId: string, path: string): Promise<Checkpointer> {
    const jwk = await readJwk(path)
    const alg = algOf(jwk)
    const kid = jwk.kid ?? 'ndx-gateway-checkpoint'
    const privateKey = await importJWK(jwk, alg, { extractable: false }) as CryptoKey
    const { d: _d, ...pub } = jwk
    const publicKey = await importJWK({ ...pub, alg }, alg) as CryptoKey
    return new Checkpointer(gatewayId, kid, alg, privateKey, { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' })
  }

  /** Signs `payload` as a compact JWS of type `typ`, issued by this gateway. */
  signPayload (payload: Record<string, unknown>, typ: string, now = Date.now()): Promise<string> {
    return new SignJWT(payload).setProtectedHeader({ alg: this.alg, kid: this.kid, typ })
      .setIssuer(this.#gatewayId).setIssuedAt(Math.floor(now / 1000)).sign(this.#privateKey)
  }

  sign (
    seq: number, hash: string, prev: { seq: number, hash: string } | null = null, now = Date.now()
  ): Promise<string> {
    return this.signPayload({ seq, hash, prev }, CHECKPOINT_TYP, now)
  }

  /**
   * Signs and stores a checkpoint of the current head, if it moved since the last one, linked to the last
   * one. One at a time across processes (an advisory lock), so the checkpoints keep one chain.
   *
   * It signs only a head that extends what it trusts: the last checkpoint must be the one this process
   * signed last (or a later one signed with a trusted key: another instance), its signature must verify,
   * and the records from it to the head must recompute. A first checkpoint is signed only while no record
   * older than the interval allows is waiting for one (with `everySeconds`). Otherwise it rejects with
   * `TamperSuspected`: an operator rewrote the chain, and the gateway must not sign the rewrite.
   */
  async checkpoint (
    sql: Sql, opts: { now?: number, everySeconds?: number } = {}
  ): Promise<{ seq: number, hash: string } | null> {
    const now = opts.now ?? Date.now()
    return sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(7461627)')
      const [head] = await tx.query<{ seq: number, hash: string }>('SELECT seq, hash FROM ndx_chain_head')
      if (head === undefined || Number(head.seq) === 0) return null
      const headSeq = Number(head.seq)
      const [last] = await tx.query<{ seq: number, hash: string, jws: string }>(
        'SELECT seq, hash, jws FROM ndx_checkpoints ORDER BY seq DESC LIMIT 1')
      const anchor = await this.#anchor(tx, last === undefined ? null : { ...last, seq: Number(last.seq) }, now,
        opts.everySeconds)
      if (anchor.seq >= headSeq) return null
      const end = await verifySpan(tx, anchor, headSeq)
      if (end === null || end.hash !== head.hash) {
        throw new TamperSuspected('checkpoint: the records since the last checkpoint do not recompute to the head')
      }
      const prev = last === undefined ? null : { seq: anchor.seq, hash: anchor.hash }
      const jws = await this.sign(headSeq, head.hash, prev, now)
      await tx.query(
        `INSERT INTO ndx_checkpoints (seq, hash, time, jws, kid, prev_seq, prev_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (seq) DO NOTHING`,
        [headSeq, head.hash, new Date(now), jws, this.kid, prev?.seq ?? null, prev?.hash ?? null])
      this.#lastSigned = { seq: headSeq, hash: head.hash }
      return { seq: headSeq, hash: head.hash }
    })
  }

  /** The point the next checkpoint extends, checked; rejects when the database contradicts what it signed. */
  async #anchor (
    tx: Sql, last: { seq: number, hash: string, jws: string } | null, now: number, everySeconds?: number
  ): Promise<ChainPoint> {
    const mine = this.#lastSigned
    if (last === null) {
      if (mine !== null) throw new TamperSuspected('checkpoint: the checkpoints this gateway signed are gone')
      const from = await retainedFrom(tx, this.#trusted)
      if (everySeconds !== undefined) {
        const [oldest] = await tx.query<{ time: Date }>(
          'SELECT time FROM ndx_tx WHERE seq > $1 ORDER BY seq LIMIT 1', [from.seq])
        if (oldest !== undefined && new Date(oldest.time).getTime() < now - lateMs(everySeconds)) {
          throw new TamperSuspected('checkpoint: records older than the interval and no checkpoint before them')
        }
      }
      return from
    }
    if (mine !== null && (last.seq < mine.seq || (last.seq === mine.seq && last.hash !== mine.hash))) {
      throw new TamperSuspected('checkpoint: the last checkpoint is not the one this gateway signed')
    }
    if (mine === null || last.seq !== mine.seq) {
      const payload = await this.#trusted.verify<CheckpointPayload>(last.jws)
      if (payload === null || payload.seq !== last.seq || payload.hash !== last.hash) {
        throw new TamperSuspected('checkpoint: the last checkpoint does not verify')
      }
      this.#lastSigned = { seq: last.seq, hash: last.hash }
    }
    return { seq: last.seq, hash: last.hash }
  }
}

async function verifyJws<T> (jws: string, key: CryptoKey, typ: string): Promise<T | null> {
  try {
    const { payload, protectedHeader } = await compactVerify(jws, key)
    if (protectedHeader.typ !== typ) return null
    return JSON.parse(Buffer.from(payload).toString('utf8')) as T
  } catch {
    return null
  }
}

/** Offline verification: the payload of a checkpoint signed by `key`, or null. */
export async function verifyCheckpoint (jws: string, key: CryptoKey | JWK): Promise<CheckpointPayload | null> {
  try {
    const k = 'kty' in key ? await importJWK(key as JWK, (key as JWK).alg ?? 'ES256') : key
    return await verifyJws<CheckpointPayload>(jws, k as CryptoKey, CHECKPOINT_TYP)
  } catch {
    return null
  }
}
