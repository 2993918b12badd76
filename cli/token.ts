/** `ndx token`: a signed token for one request, for curl or any HTTP client. */
import { decodeJwt } from 'jose'
import { signerFromFile, signRequest } from '../sdk/index.js'
import type { Command } from './command.js'
import { agencyOf, EXIT, findKey, jsonText, keyOptions, parse, readBody, UsageError } from './common.js'

export const requestOptions = {
  ...keyOptions,
  purpose: { type: 'string' },
  sub: { type: 'string' },
  body: { type: 'string' },
  'body-file': { type: 'string' },
  json: { type: 'boolean' },
} as const

export const KEY_HELP = `  --iss         your agency id (default: NDX_AGENCY)
  --key         your private JWK file (default: NDX_KEY, else $NDX_KEYS_DIR/<agency>.private.jwk.json,
                else the demo key)
  --aud         the gateway id (default: NDX_AUDIENCE, else ndx-gateway)
  --purpose     the purpose code of this access (required by services holding personal data)
  --sub         the official or person on whose behalf you ask
  --body        the JSON body, exactly as it will be sent (it is hashed byte for byte)
  --body-file   the body, from a file`

export const token: Command = {
  name: 'token',
  summary: 'print a signed token for one request',
  help: `usage: ndx token [--iss <agency>] [--key <file>] --method <GET|POST> --target <path?query>
                 [--purpose <p>] [--sub <s>] [--body <json> | --body-file <f>] [--aud <id>] [--exp <seconds>] [--json]
  --method      the HTTP method
  --target      the request target exactly as it will be sent: path and query, percent-encoded as sent
${KEY_HELP}
  --exp         expire after this many seconds (1-300)
  --json        print { token, header, claims } instead of the bare token
exit: 0 printed, 2 usage`,
  async run (argv, io) {
    const options = {
      ...requestOptions, method: { type: 'string' }, target: { type: 'string' }, exp: { type: 'string' },
    } as const
    const { values } = parse(argv, options)
    if (values.method === undefined || values.target === undefined) {
      throw new UsageError('--method and --target are required')
    }
    const iss = agencyOf(values, io.env)
    const signer = await signerFromFile(iss, findKey(iss, values.key, io), values.aud ?? io.env.NDX_AUDIENCE)
    const body = await readBody(values)
    const expiresIn = values.exp === undefined ? undefined : Number(values.exp)
    if (expiresIn !== undefined && !(Number.isInteger(expiresIn) && expiresIn > 0 && expiresIn <= 300)) {
      throw new UsageError(`--exp ${values.exp ?? ''} is not 1-300 seconds`)
    }
    const jws = await signRequest(signer, {
      method: values.method,
      target: values.target,
      ...(body === undefined ? {} : { body }),
      ...(values.purpose === undefined ? {} : { purpose: values.purpose }),
      ...(values.sub === undefined ? {} : { sub: values.sub }),
      ...(expiresIn === undefined ? {} : { expiresIn }),
    })
    if (values.json === true) {
      const header = JSON.parse(Buffer.from(jws.split('.')[0] as string, 'base64url').toString('utf8')) as unknown
      io.out(jsonText({ token: jws, header, claims: decodeJwt(jws) }))
    } else {
      io.out(jws + '\n')
    }
    return EXIT.ok
  },
}
