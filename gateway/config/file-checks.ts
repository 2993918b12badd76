/**
 * Files a configuration names (keys, certificates) are read here exactly as the gateway reads them at
 * startup, relative to the configuration directory: a missing or unusable file is a config issue naming
 * it, never an ENOENT stack when the gateway starts (CONTRACT §2 v1.1).
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { importJWK, type JWK } from 'jose'
import type { IssueSink } from '../../core/config-types.js'

/** Resolves a file named in the configuration: relative names are relative to the configuration directory. */
export function configFilePath (dir: string, name: string): string {
  return resolve(dir, name)
}

async function checkJwkFile (dir: string, name: string, needPrivate: boolean): Promise<string | null> {
  const path = configFilePath(dir, name)
  let jwk: JWK & { alg?: string }
  try {
    jwk = JSON.parse(await readFile(path, 'utf8')) as JWK & { alg?: string }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return `file not found: ${path}`
    if (code !== undefined) return `cannot read ${path} (${code})`
    return `${path} is not JSON (a JWK is expected)`
  }
  if (jwk === null || typeof jwk !== 'object' || typeof jwk.kty !== 'string') return `${path} is not a JWK`
  if (needPrivate && jwk.d === undefined) return `${path} holds no private key (a private JWK is expected)`
  const alg = jwk.alg ?? (jwk.kty === 'OKP' ? 'EdDSA' : 'ES256')
  try {
    await importJWK(needPrivate ? jwk : { ...jwk, d: undefined }, alg)
  } catch (err) {
    return `${path} is not a usable ${alg} key: ${(err as Error).message}`
  }
  return null
}

/** Checks every file `gateway.yaml` names; `secrets` is the raw (validated) section. */
export async function checkGatewayFiles (
  dir: string, secrets: Record<string, unknown>, file: string, issues: IssueSink
): Promise<void> {
  const keyFile = secrets.checkpointKeyFile
  if (typeof keyFile === 'string' && keyFile !== '') {
    const why = await checkJwkFile(dir, keyFile, true)
    if (why !== null) issues.push({ file, path: '/secrets/checkpointKeyFile', reason: why })
  }
  // Earlier checkpoint keys (public JWK files), when the configuration lists them.
  const published = secrets.checkpointPublicKeys
  if (Array.isArray(published)) {
    for (const [i, name] of published.entries()) {
      if (typeof name !== 'string') continue
      const why = await checkJwkFile(dir, name, false)
      if (why !== null) issues.push({ file, path: `/secrets/checkpointPublicKeys/${i}`, reason: why })
    }
  }
}
