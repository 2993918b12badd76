/**
 * A ceiling: fastify, verification of the same signed token, and a fixed reply — what a gateway could do at
 * best on this machine if it did nothing else (no claims, replay guard, access checks, reuse store or
 * transaction log). CEILING_VERIFY picks how the signature is checked: `jose` (WebCrypto, jose's
 * compactVerify) or `node` (node:crypto's KeyObject verify on libuv's pool). The faster one is the ceiling.
 */
import { KeyObject, verify } from 'node:crypto'
import Fastify from 'fastify'
import { compactVerify, importJWK, type CryptoKey, type JWK } from 'jose'

const jwk = JSON.parse(process.env.CEILING_JWK ?? '{}') as JWK & { alg: string }
const how = process.env.CEILING_VERIFY === 'node' ? 'node' : 'jose'
const key = await importJWK(jwk, jwk.alg) as CryptoKey
const keyObject = KeyObject.from(key)
const reply = JSON.stringify({
  data: { fullName: 'Dương Đức Việt', dateOfBirth: '1975-08-14' },
  meta: { source: 'reuse' },
})

function nodeVerify (token: string): Promise<boolean> {
  const dot = token.lastIndexOf('.')
  const data = Buffer.from(token.slice(0, dot))
  const signature = Buffer.from(token.slice(dot + 1), 'base64url')
  return new Promise((resolve) => {
    verify('sha256', data, { key: keyObject, dsaEncoding: 'ieee-p1363' }, signature, (err, ok) => {
      resolve(err === null && ok)
    })
  })
}

const app = Fastify({ logger: false })
app.get('/v1/population/citizens/:id', async (req, res) => {
  const token = (req.headers.authorization ?? '').slice(7)
  let ok = false
  try {
    ok = how === 'node' ? await nodeVerify(token) : (await compactVerify(token, key, { algorithms: [jwk.alg] }), true)
  } catch {
    ok = false
  }
  if (!ok) return res.code(401).send({ code: 'auth.signature' })
  return res.type('application/json').send(reply)
})
const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
process.stdout.write(`ceiling listening ${url} (${how})\n`)
