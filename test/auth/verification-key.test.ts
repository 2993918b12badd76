/**
 * The signature check itself, per algorithm (CONTRACT §3), now that it runs on node:crypto KeyObjects: each
 * accepts exactly its own signatures, and refuses the forgeries and confusions an attacker would try — a
 * stranger's key, one flipped bit, a signature cut short or padded, the same key under another algorithm,
 * an ECDSA signature in DER instead of JWS's raw r‖s, PSS and PKCS #1 v1.5 taken for one another.
 */
import t from 'tap'
import { constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import type { JWK } from 'jose'
import { VerificationKey } from '../../gateway/auth/keys.js'

interface Pair { readonly publicKey: KeyObject, readonly privateKey: KeyObject }

const pairs = {
  ec256: (): Pair => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ec384: (): Pair => generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ed: (): Pair => generateKeyPairSync('ed25519'),
  rsa: (): Pair => generateKeyPairSync('rsa', { modulusLength: 2048 }),
}

/** How a JWS signer of each algorithm signs (RFC 7518). */
function jwsSign (alg: string, key: KeyObject, data: Buffer): Buffer {
  switch (alg) {
    case 'ES256': return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
    case 'ES384': return sign('sha384', data, { key, dsaEncoding: 'ieee-p1363' })
    case 'EdDSA': return sign(null, data, key)
    case 'PS256': return sign('sha256', data, {
      key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    })
    default: return sign('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING })
  }
}

const CASES: Array<[string, () => Pair]> = [
  ['ES256', pairs.ec256], ['ES384', pairs.ec384], ['EdDSA', pairs.ed], ['PS256', pairs.rsa], ['RS256', pairs.rsa],
]
const data = Buffer.from('eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJWTi5MT0MuRE5HIn0')

for (const [alg, make] of CASES) {
  t.test(`${alg}: its own signature verifies, forgeries do not`, async (t) => {
    const mine = make()
    const stranger = make()
    const key = new VerificationKey('k1', mine.publicKey.export({ format: 'jwk' }) as JWK)
    const good = jwsSign(alg, mine.privateKey, data)
    t.equal(await key.verify(alg, data, good), true, 'its own signature')
    t.equal(await key.verify(alg, data, jwsSign(alg, stranger.privateKey, data)), false, 'a stranger\'s key')
    const flipped = Buffer.from(good)
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1
    t.equal(await key.verify(alg, data, flipped), false, 'one bit flipped')
    t.equal(await key.verify(alg, data, good.subarray(0, good.length - 1)), false, 'cut short')
    t.equal(await key.verify(alg, data, Buffer.concat([good, Buffer.from([0])])), false, 'padded')
    t.equal(await key.verify(alg, data, Buffer.alloc(0)), false, 'empty')
    t.equal(await key.verify(alg, Buffer.concat([data, Buffer.from('x')]), good), false, 'other signed bytes')
  })
}

t.test('a key verifies only under the algorithms its type (and its JWK alg) allow', async (t) => {
  const ec = pairs.ec256()
  const key = new VerificationKey('k1', ec.publicKey.export({ format: 'jwk' }) as JWK)
  t.same([...key.algorithms], ['ES256'])
  const signature = jwsSign('ES256', ec.privateKey, data)
  for (const other of ['ES384', 'EdDSA', 'PS256', 'RS256', 'HS256', 'none']) {
    t.equal(await key.verify(other, data, signature), false, `not as ${other}`)
  }
  const rsa = pairs.rsa()
  const onlyPss = new VerificationKey('k2', { ...rsa.publicKey.export({ format: 'jwk' }), alg: 'PS256' } as JWK)
  t.same([...onlyPss.algorithms], ['PS256'], 'a JWK alg narrows an RSA key to one algorithm')
  t.equal(await onlyPss.verify('RS256', data, jwsSign('RS256', rsa.privateKey, data)), false, 'RS256 refused')
})

t.test('confusions: DER for raw ECDSA, PSS for PKCS #1 v1.5 and back', async (t) => {
  const ec = pairs.ec256()
  const ecKey = new VerificationKey('k1', ec.publicKey.export({ format: 'jwk' }) as JWK)
  const der = sign('sha256', data, { key: ec.privateKey, dsaEncoding: 'der' })
  t.equal(await ecKey.verify('ES256', data, der), false, 'an ASN.1 DER ECDSA signature is not a JWS one')
  const rsa = pairs.rsa()
  const rsaKey = new VerificationKey('k2', rsa.publicKey.export({ format: 'jwk' }) as JWK)
  t.equal(await rsaKey.verify('RS256', data, jwsSign('PS256', rsa.privateKey, data)), false, 'PSS is not RS256')
  t.equal(await rsaKey.verify('PS256', data, jwsSign('RS256', rsa.privateKey, data)), false, 'v1.5 is not PS256')
})
