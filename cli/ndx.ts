/**
 * `ndx` — the command-line tool for agencies and administrators.
 *
 *   ndx keygen  --kid <kid> [--alg ES256|ES384|EdDSA|PS256|RS256] [--out <file>]
 *   ndx token   --iss <agency> [--key <file>] --method <M> --target <path?query> [--purpose p] [--sub s] [--body json|--body-file f] [--aud id] [--exp s]
 *   ndx call    --iss <agency> [--key <file>] [--url <gateway>] [--purpose p] [--sub s] [--body json|--body-file f] <METHOD> <path?query>
 *   ndx config check [dir]
 *   ndx checkpoint verify --key <gateway public JWK file> <jws>
 */
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { stringify } from 'yaml'
import { ConfigError, loadConfig } from '../gateway/config/load-config.js'
import { projectPath } from '../gateway/paths.js'
import { generateAgencyKey, NdxClient, signerFromFile, signRequest, type SigningAlgorithm } from '../sdk/index.js'
import { verifyCheckpoint } from '../gateway/txlog/checkpoints.js'
import type { JWK } from 'jose'

const USAGE = `usage:
  ndx keygen --kid <kid> [--alg ES256|ES384|EdDSA|PS256|RS256] [--out <file>]
  ndx token --iss <agency> [--key <file>] --method <GET|POST> --target <path?query> [--purpose <p>] [--sub <s>] [--body <json> | --body-file <f>] [--aud <id>] [--exp <seconds>]
  ndx call --iss <agency> [--key <file>] [--url <gateway url>] [--purpose <p>] [--sub <s>] [--body <json> | --body-file <f>] <METHOD> <path?query>
  ndx config check [<dir>]
  ndx checkpoint verify --key <gateway public JWK file> <checkpoint JWS>
Without --key, the demo key demo/keys/<agency>.private.jwk.json is used (DEMO ONLY).`

export interface CliIo {
  out (text: string): void
  err (text: string): void
  env: Readonly<Record<string, string | undefined>>
}

class UsageError extends Error {}

const ALGS = new Set(['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'])

async function keyFile (iss: string, key: string | undefined, io: CliIo): Promise<string> {
  if (key !== undefined) return key
  const demo = projectPath('demo', 'keys', `${iss}.private.jwk.json`)
  if (!existsSync(demo)) throw new UsageError(`--key is required (no demo key for ${iss})`)
  io.err(`ndx: using the DEMO key ${demo} — never use demo keys outside a demo`)
  return demo
}

async function readBody (values: { body?: string, 'body-file'?: string }): Promise<string | undefined> {
  if (values.body !== undefined && values['body-file'] !== undefined) throw new UsageError('give --body or --body-file, not both')
  if (values['body-file'] !== undefined) return readFile(values['body-file'], 'utf8')
  return values.body
}

const common = {
  iss: { type: 'string' }, key: { type: 'string' }, purpose: { type: 'string' }, sub: { type: 'string' },
  body: { type: 'string' }, 'body-file': { type: 'string' }, aud: { type: 'string' },
} as const

async function keygen (args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { kid: { type: 'string' }, alg: { type: 'string', default: 'ES256' }, out: { type: 'string' } } })
  if (values.kid === undefined || !/^[A-Za-z0-9._:-]{1,128}$/.test(values.kid)) throw new UsageError('--kid is required ([A-Za-z0-9._:-], up to 128)')
  if (!ALGS.has(values.alg)) throw new UsageError(`--alg must be one of ${[...ALGS].join(', ')}`)
  const out = values.out ?? `${values.kid}.private.jwk.json`
  if (existsSync(out)) throw new UsageError(`${out} exists; not overwriting a key`)
  const { privateJwk, publicJwk } = await generateAgencyKey(values.kid, values.alg as SigningAlgorithm)
  await writeFile(out, JSON.stringify(privateJwk, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  io.err(`ndx: private key written to ${out} (keep it secret; mode 0600)`)
  io.out('# add to the agency file, under keys:\n' + stringify([{ kid: values.kid, jwk: publicJwk }], { lineWidth: 0 }))
  return 0
}

async function token (args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { ...common, method: { type: 'string' }, target: { type: 'string' }, exp: { type: 'string' } } })
  if (values.iss === undefined || values.method === undefined || values.target === undefined) throw new UsageError('--iss, --method and --target are required')
  const signer = await signerFromFile(values.iss, await keyFile(values.iss, values.key, io), values.aud)
  const body = await readBody(values)
  const expiresIn = values.exp === undefined ? undefined : Number(values.exp)
  if (expiresIn !== undefined && !(Number.isInteger(expiresIn) && expiresIn > 0 && expiresIn <= 300)) throw new UsageError('--exp must be 1-300 seconds')
  io.out(await signRequest(signer, {
    method: values.method,
    target: values.target,
    ...(body === undefined ? {} : { body }),
    ...(values.purpose === undefined ? {} : { purpose: values.purpose }),
    ...(values.sub === undefined ? {} : { sub: values.sub }),
    ...(expiresIn === undefined ? {} : { expiresIn }),
  }) + '\n')
  return 0
}

async function call (args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...common, url: { type: 'string' } } })
  const [method, target] = positionals
  if (values.iss === undefined || method === undefined || target === undefined) throw new UsageError('--iss, METHOD and target are required')
  const signer = await signerFromFile(values.iss, await keyFile(values.iss, values.key, io), values.aud)
  const body = await readBody(values)
  let parsed: unknown
  if (body !== undefined) {
    try { parsed = JSON.parse(body) } catch { throw new UsageError('--body must be JSON') }
  }
  const url = values.url ?? io.env.NDX_URL ?? `http://127.0.0.1:${io.env.PORT ?? 8080}`
  const client = new NdxClient({ baseUrl: url, signer })
  const reply = await client.call(method.toUpperCase(), target, {
    ...(parsed === undefined ? {} : { body: parsed }),
    ...(values.purpose === undefined ? {} : { purpose: values.purpose }),
    ...(values.sub === undefined ? {} : { sub: values.sub }),
  })
  io.err(`HTTP ${reply.status}  X-Transaction-Id: ${reply.transactionId ?? '-'}`)
  io.out((typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body, null, 2)) + '\n')
  return reply.status >= 200 && reply.status < 300 ? 0 : 1
}

async function configCheck (args: string[], io: CliIo): Promise<number> {
  const dir = args[0] ?? io.env.CONFIG_DIR ?? 'config'
  try {
    const config = await loadConfig(dir, io.env)
    const ops = Object.values(config.services).reduce((n, s) => n + Object.keys(s.operations).length, 0)
    io.out(`ok: ${dir} — ${Object.keys(config.agencies).length} agencies, ${Object.keys(config.services).length} services, ${ops} operations (digest ${config.digest})\n`)
    return 0
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    io.err(`refused: ${dir} — ${err.issues.length} issue(s)`)
    for (const i of err.issues) io.out(`${i.file} ${i.path || '/'}: ${i.reason}\n`)
    return 1
  }
}

async function checkpointVerify (args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { key: { type: 'string' } } })
  const jws = positionals[0]
  if (values.key === undefined || jws === undefined) throw new UsageError('--key and the checkpoint JWS are required')
  const payload = await verifyCheckpoint(jws.trim(), JSON.parse(await readFile(values.key, 'utf8')) as JWK)
  if (payload === null) {
    io.err('invalid: the checkpoint does not verify with this key')
    return 1
  }
  io.out(JSON.stringify({ valid: true, ...payload, signedAt: new Date(payload.iat * 1000).toISOString() }, null, 2) + '\n')
  return 0
}

export async function runCli (argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'keygen': return await keygen(rest, io)
      case 'token': return await token(rest, io)
      case 'call': return await call(rest, io)
      case 'batch': return await (await import('./batch.js')).main(rest)
      case 'config':
        if (rest[0] === 'check') return await configCheck(rest.slice(1), io)
        throw new UsageError('did you mean: ndx config check <dir>')
      case 'checkpoint':
        if (rest[0] === 'verify') return await checkpointVerify(rest.slice(1), io)
        throw new UsageError('did you mean: ndx checkpoint verify --key <file> <jws>')
      case undefined: case 'help': case '--help': case '-h':
        io.out(USAGE + '\n')
        return command === undefined ? 2 : 0
      default: throw new UsageError(`unknown command ${command}`)
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`ndx: ${(err as Error).message}\n${USAGE}`)
      return 2
    }
    io.err(`ndx: ${(err as Error).message}`)
    return 1
  }
}
