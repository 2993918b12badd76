/**
 * Hand-made tokens for refusal tests: any header, any claims, signed with any key (or not at all).
 */
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { CompactSign, type CryptoKey } from 'jose'
import { bodyHash, newJti } from '../../sdk/index.js'

export const b64 = (v: unknown): string =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

export function baseClaims (iss: string, method: string, target: string, body?: string): Record<string, unknown> {
  return {
    iss,
    aud: 'ndx-gateway',
    iat: Math.floor(Date.now() / 1000),
    jti: newJti(),
    htm: method,
    htu: target,
    bsh: bodyHash(body),
  }
}

/** Signs exactly the header and claims given (jose checks nothing about them). */
export async function sign (
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: CryptoKey | KeyObject
): Promise<string> {
  return new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader(header as { alg: string }).sign(key)
}

/** An unsigned or HMAC-"signed" token: the algorithm-confusion attacks. */
export function unsigned (
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  hmacSecret?: string
): string {
  const input = `${b64(header)}.${b64(claims)}`
  if (hmacSecret === undefined) return `${input}.`
  return `${input}.${createHmac('sha256', hmacSecret).update(input).digest('base64url')}`
}

export function strangerKey (): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
}
