/**
 * The ceiling: fastify, the same jose verification of the same signed token, and a fixed reply — what a
 * gateway could do at best on this machine if it did nothing else (no claims, replay guard, access checks,
 * reuse store or transaction log).
 */
import Fastify from 'fastify'
import { compactVerify, importJWK, type CryptoKey, type JWK } from 'jose'

const jwk = JSON.parse(process.env.CEILING_JWK ?? '{}') as JWK & { alg: string }
const key = await importJWK(jwk, jwk.alg) as CryptoKey
const reply = JSON.stringify({
  data: { fullName: 'Dương Đức Việt', dateOfBirth: '1975-08-14' },
  meta: { source: 'reuse' },
})
const app = Fastify({ logger: false })
app.get('/v1/population/citizens/:id', async (req, res) => {
  const auth = req.headers.authorization ?? ''
  try {
    await compactVerify(auth.slice(7), key, { algorithms: [jwk.alg] })
  } catch {
    return res.code(401).send({ code: 'auth.signature' })
  }
  return res.type('application/json').send(reply)
})
const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
process.stdout.write(`ceiling listening ${url}\n`)
