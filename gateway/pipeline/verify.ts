/**
 * Step 2, verify: the signed token (CONTRACT §3). auth/authenticate.ts makes the checks, cheapest first;
 * this step hands them the request exactly as it was sent, and fills `progress` with what was learnt of
 * the caller even when a check refuses (a record names who claimed to ask, and who really did).
 */
import type { FastifyRequest } from 'fastify'
import { authenticate, type AuthProgress, type Caller } from '../auth/authenticate.js'
import type { ReplayGuard } from '../auth/replay-guard.js'
import type { Runtime } from '../runtime/runtime.js'

export function emptyProgress (): AuthProgress {
  return { client: null, claimedClient: null, keyId: null, purpose: null, onBehalfOf: null, replayGuard: null }
}

export async function verify (
  req: FastifyRequest, runtime: Runtime, replayGuard: ReplayGuard, progress: AuthProgress
): Promise<Caller> {
  const gw = runtime.config.gateway
  return authenticate(
    {
      authorization: req.headers.authorization,
      authorizationCount: countHeader(req.raw.rawHeaders, 'authorization'),
      method: req.method,
      target: req.url,
      body: req.rawBody,
    },
    runtime.agencies, replayGuard,
    {
      audience: gw.id,
      maxClockSkewSeconds: gw.maxClockSkewSeconds,
      maxTokenBytes: gw.limits.tokenBytes,
      whenRedisDown: gw.replay.whenRedisDown,
    },
    progress
  )
}

/** How often a header was sent (Node keeps only the first Authorization header of several). */
function countHeader (raw: string[], name: string): number {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) {
    const header = raw[i] as string
    if (header.length === name.length && header.toLowerCase() === name) n++
  }
  return n
}
