/**
 * Encryption at rest for kept records: AES-256-GCM under the current key, decryptable by any listed key
 * (rotation: add a new key first in the list; keep the old one until its records have expired). The
 * record's storage key is the additional authenticated data, so a value cannot be moved to another key.
 *
 * Layout: 0x01 | keyIdLength | keyId | iv (12) | tag (16) | ciphertext
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { decodeKey } from '../../core/config-types.js'

export class RecordCipher {
  readonly #current: { id: Buffer, key: Buffer }
  readonly #keys: Map<string, Buffer>

  constructor (keys: ReadonlyArray<{ readonly id: string, readonly key: string }>) {
    if (keys.length === 0) throw new Error('at least one cache key is needed')
    this.#keys = new Map(keys.map((k) => [k.id, decodeKey(k.key)]))
    const first = keys[0] as { id: string, key: string }
    this.#current = { id: Buffer.from(first.id), key: decodeKey(first.key) }
  }

  seal (plaintext: Buffer, aad: string): Buffer {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, iv)
    cipher.setAAD(Buffer.from(aad))
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
    return Buffer.concat([Buffer.from([1, this.#current.id.length]), this.#current.id, iv, cipher.getAuthTag(), body])
  }

  /** The plaintext, or null when the value is not ours (unknown key id, tampered, wrong record key). */
  open (sealed: Buffer, aad: string): Buffer | null {
    if (sealed.length < 30 || sealed[0] !== 1) return null
    const idLen = sealed[1] as number
    const key = this.#keys.get(sealed.subarray(2, 2 + idLen).toString())
    if (key === undefined) return null
    const at = 2 + idLen
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(at, at + 12))
      decipher.setAAD(Buffer.from(aad))
      decipher.setAuthTag(sealed.subarray(at + 12, at + 28))
      return Buffer.concat([decipher.update(sealed.subarray(at + 28)), decipher.final()])
    } catch {
      return null
    }
  }
}
