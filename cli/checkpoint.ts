/** `ndx checkpoint verify`: checks a transaction-log checkpoint against the gateway's public key. */
import { readFile } from 'node:fs/promises'
import type { JWK } from 'jose'
import { verifyCheckpoint } from '../gateway/txlog/checkpoints.js'
import type { Command } from './command.js'
import { EXIT, jsonText, parse, UsageError } from './common.js'

export const checkpointVerify: Command = {
  name: 'checkpoint verify',
  summary: 'verify a signed transaction-log checkpoint',
  help: `usage: ndx checkpoint verify --key <gateway public JWK file> <checkpoint JWS>
Prints the checkpoint's claims as JSON when it verifies.
exit: 0 valid, 1 invalid, 2 usage`,
  async run (argv, io) {
    const { values, positionals } = parse(argv, { key: { type: 'string' }, json: { type: 'boolean' } }, true)
    const jws = positionals[0]
    if (values.key === undefined || jws === undefined) throw new UsageError('--key and the checkpoint JWS are required')
    let jwk: JWK
    try {
      jwk = JSON.parse(await readFile(values.key, 'utf8')) as JWK
    } catch {
      throw new UsageError(`cannot read a JWK from --key ${values.key}`)
    }
    const payload = await verifyCheckpoint(jws.trim(), jwk)
    if (payload === null) {
      io.err('invalid: the checkpoint does not verify with this key')
      return EXIT.refused
    }
    io.out(jsonText({ valid: true, ...payload, signedAt: new Date(payload.iat * 1000).toISOString() }))
    return EXIT.ok
  },
}
