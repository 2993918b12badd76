/**
 * CONTRACT §3 (v1.1): the published signing vectors (docs/vectors/vectors.json) verify against the gateway's
 * real verification code, a re-encoded target is refused as auth.binding, and the SDK computes the same
 * bsh and claims (and, for the deterministic algorithms, the same token).
 */
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeJwt, type JWK } from 'jose'
import { stringify } from 'yaml'
import { authenticate } from '../../gateway/auth/authenticate.js'
import { AgencyDirectory } from '../../gateway/auth/agencies.js'
import { MemoryReplayGuard } from '../../gateway/auth/replay-guard.js'
import { loadConfig } from '../../gateway/config/load-config.js'
import { projectPath } from '../../core/paths.js'
import { bodyHash, signerFromJwk, signRequest, type PrivateKeyFile } from '../../sdk/index.js'
import { copyConfig } from '../helpers/gateway.js'

interface Vector {
  name: string
  key: { alg: string, kid: string, publicJwk: JWK, privateJwk: PrivateKeyFile }
  request: { method: string, target: string, body: string, bodyBase64: string }
  bsh: string
  header: Record<string, unknown>
  claims: Record<string, unknown> & { iat: number, jti: string, exp?: number, purpose?: string, sub?: string }
  token: string
  wrongTargets?: string[]
}
const FILE = JSON.parse(readFileSync(projectPath('docs', 'vectors', 'vectors.json'), 'utf8')) as {
  iss: string
  emptyBodyBsh: string
  gateway: { id: string; verifyAt: number }
  vectors: Vector[]
}

async function directory (t: Test): Promise<AgencyDirectory> {
  const dir = await copyConfig(t)
  const keys = [...new Map(FILE.vectors.map((v) => [v.key.kid, { kid: v.key.kid, jwk: v.key.publicJwk }])).values()]
  await writeFile(
    join(dir, 'agencies', `${FILE.iss}.yaml`),
    stringify({ id: FILE.iss, name: 'Signing vectors', roles: ['consumer', 'auditor', 'source'], keys })
  )
  return new AgencyDirectory(await loadConfig(dir, {}))
}

const SETTINGS = { audience: FILE.gateway.id, maxClockSkewSeconds: 60, maxTokenBytes: 8192 }
const progress = (): { client: null; keyId: null; purpose: null; onBehalfOf: null; claimedClient: null } => ({
  client: null,
  keyId: null,
  purpose: null,
  onBehalfOf: null,
  claimedClient: null,
})

t.test('the vectors cover what agencies get wrong', async (t) => {
  const all = FILE.vectors
  t.ok(new Set(all.map((v) => v.key.alg)).size >= 3, 'several algorithms')
  t.ok(all.some((v) => /%[0-9A-F]{2}/.test(v.request.target) && v.request.target.includes('?')), 'a query with percent-encoded reserved characters')
  t.ok(all.some((v) => /%C[0-9A-F]%[89AB][0-9A-F]/.test(v.request.target)), 'non-ASCII (UTF-8) in the query')
  t.ok(all.some((v) => /[^\p{ASCII}]/u.test(v.request.body)), 'a non-ASCII body')
  t.ok(all.some((v) => v.request.body === '') && all.some((v) => v.request.body !== ''), 'empty and non-empty bodies')
  t.equal(FILE.emptyBodyBsh, '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU')
})

t.test('every vector verifies with the gateway\'s own verification code', async (t) => {
  const agencies = await directory(t)
  for (const v of FILE.vectors) {
    const caller = await authenticate(
      {
        authorization: `Bearer ${v.token}`,
        method: v.request.method,
        target: v.request.target,
        body: Buffer.from(v.request.bodyBase64, 'base64'),
      },
      agencies,
      new MemoryReplayGuard(),
      SETTINGS,
      progress(),
      FILE.gateway.verifyAt * 1000
    )
    t.equal(caller.kid, v.key.kid, `verifies: ${v.name}`)
    t.equal(caller.purpose, v.claims.purpose ?? null)
  }
})

t.test('a client that re-encodes its target is refused with auth.binding', async (t) => {
  const agencies = await directory(t)
  let checked = 0
  for (const v of FILE.vectors) {
    for (const target of v.wrongTargets ?? []) {
      checked++
      await t.rejects(
        authenticate(
          {
            authorization: `Bearer ${v.token}`,
            method: v.request.method,
            target,
            body: Buffer.from(v.request.bodyBase64, 'base64'),
          },
          agencies,
          new MemoryReplayGuard(),
          SETTINGS,
          progress(),
          FILE.gateway.verifyAt * 1000
        ),
        { name: 'GatewayError', code: 'auth.binding' },
        `refused: ${target}`
      )
    }
    await t.rejects(
      authenticate(
        {
          authorization: `Bearer ${v.token}`,
          method: v.request.method,
          target: v.request.target,
          body: Buffer.from(`${v.request.body} `),
        },
        agencies,
        new MemoryReplayGuard(),
        SETTINGS,
        progress(),
        FILE.gateway.verifyAt * 1000
      ),
      { name: 'GatewayError', code: 'auth.binding' },
      'one more byte of body is another bsh'
    )
  }
  t.ok(checked >= 4)
})

t.test(
  'the SDK computes the same bsh and claims (and the same token where the algorithm is deterministic)',
  async (t) => {
    for (const v of FILE.vectors) {
      t.equal(bodyHash(v.request.body === '' ? undefined : v.request.body), v.bsh, `bsh: ${v.name}`)
      t.equal(bodyHash(Buffer.from(v.request.bodyBase64, 'base64')), v.bsh, 'from the raw bytes too')
      const signer = await signerFromJwk(FILE.iss, v.key.privateJwk)
      const token = await signRequest(signer, {
        method: v.request.method,
        target: v.request.target,
        iat: v.claims.iat,
        jti: v.claims.jti,
        ...(v.request.body === '' ? {} : { body: v.request.body }),
        ...(v.claims.purpose === undefined ? {} : { purpose: v.claims.purpose }),
        ...(v.claims.sub === undefined ? {} : { sub: v.claims.sub }),
        ...(v.claims.exp === undefined ? {} : { expiresIn: v.claims.exp - v.claims.iat }),
      })
      t.same(decodeJwt(token), v.claims, `claims: ${v.name}`)
      t.same(v.header, { alg: v.key.alg, kid: v.key.kid, typ: 'ndx+jwt' })
      if (v.key.alg === 'EdDSA' || v.key.alg === 'RS256') {
        t.equal(token, v.token, `the same token (${v.key.alg} is deterministic)`)
      }
    }
  }
)
