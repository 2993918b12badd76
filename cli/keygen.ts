/** `ndx keygen`: a new signing key pair; the private JWK to keep, the public entry for the agency file. */
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { stringify } from 'yaml'
import { generateAgencyKey, type SigningAlgorithm } from '../sdk/index.js'
import type { Command } from './command.js'
import { EXIT, jsonText, keyFileName, keysDir, parse, UsageError } from './common.js'

const ALGS = ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256']
const KID = /^[A-Za-z0-9._:-]{1,128}$/

export const keygen: Command = {
  name: 'keygen',
  summary: 'make a signing key pair for an agency',
  help: `usage: ndx keygen --kid <kid> [--iss <agency>] [--alg ${ALGS.join('|')}] [--out <file>] [--json]
  --kid   the key id tokens name (letters, digits and . _ : -, up to 128)
  --iss   your agency id: the key is written as $NDX_KEYS_DIR/<agency>.private.jwk.json, where token and
          call find it (default: NDX_AGENCY; without either, <kid>.private.jwk.json)
  --alg   default ES256
  --out   write the private key here instead
  --json  print { privateKeyFile, kid, alg, publicJwk } instead of the YAML entry
Writes the private JWK (mode 0600, never overwritten) and prints the public entry for the agency file.
exit: 0 written, 2 usage or the file exists`,
  async run (argv, io) {
    const { values } = parse(argv, {
      kid: { type: 'string' },
      iss: { type: 'string' },
      alg: { type: 'string', default: 'ES256' },
      out: { type: 'string' },
      json: { type: 'boolean' },
    })
    if (values.kid === undefined) throw new UsageError('--kid is required')
    if (!KID.test(values.kid)) {
      throw new UsageError(`--kid ${values.kid} is not a valid key id: use letters, digits and . _ : - (up to 128)`)
    }
    if (!ALGS.includes(values.alg)) {
      throw new UsageError(`--alg ${values.alg} is not accepted: use one of ${ALGS.join(', ')}`)
    }
    const agency = values.iss ?? io.env.NDX_AGENCY
    const out = values.out ?? join(keysDir(io.env), keyFileName(agency ?? values.kid))
    if (existsSync(out)) throw new UsageError(`${out} exists; not overwriting a key`)
    const { privateJwk, publicJwk } = await generateAgencyKey(values.kid, values.alg as SigningAlgorithm)
    await mkdir(dirname(out), { recursive: true })
    await writeFile(out, JSON.stringify(privateJwk, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
    io.err(`ndx: private key written to ${out} (keep it secret; mode 0600)`)
    if (values.json === true) {
      io.out(jsonText({ privateKeyFile: out, kid: values.kid, alg: values.alg, publicJwk }))
    } else {
      const entry = stringify([{ kid: values.kid, jwk: publicJwk }], { lineWidth: 0 })
      io.out('# add to the agency file, under keys:\n' + entry)
    }
    return EXIT.ok
  },
}
