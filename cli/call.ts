/** `ndx call`: sign, send, print the reply. The exit code tells a refusal (1) from an unreachable gateway (3). */
import { NdxClient, signerFromFile } from '../sdk/index.js'
import type { Command } from './command.js'
import { agencyOf, EXIT, findKey, jsonText, parse, readBody, TransportError, UsageError } from './common.js'
import { KEY_HELP, requestOptions } from './token.js'

export const call: Command = {
  name: 'call',
  summary: 'sign and send one request; print the reply',
  help: `usage: ndx call [--iss <agency>] [--key <file>] [--url <gateway url>] [--purpose <p>] [--sub <s>]
                [--body <json> | --body-file <f>] [--aud <id>] [--timeout <ms>] [--json] <METHOD> <path?query>
  --url         the gateway (default: NDX_URL, else http://127.0.0.1:$PORT, PORT default 8080)
${KEY_HELP}
  --timeout     give up after this many milliseconds (default 30000)
  --json        print { status, transactionId, body } (always JSON) instead of the body
The status line and X-Transaction-Id go to stderr, the reply body to stdout.
exit: 0 a 2xx reply; 1 the gateway answered with a problem (4xx/5xx); 2 usage; 3 the gateway could not be reached`,
  async run (argv, io) {
    const options = { ...requestOptions, url: { type: 'string' }, timeout: { type: 'string' } } as const
    const { values, positionals } = parse(argv, options, true)
    const [method, target, ...extra] = positionals
    if (method === undefined || target === undefined) {
      throw new UsageError('METHOD and target are required, e.g. ndx call GET /v1/population/citizens/001')
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0] as string}`)
    if (!target.startsWith('/')) {
      throw new UsageError(`the target ${target} must start with / (path and query; the host goes in --url)`)
    }
    const timeout = Number(values.timeout ?? 30_000)
    if (!(Number.isInteger(timeout) && timeout > 0)) {
      throw new UsageError(`--timeout ${values.timeout ?? ''} is not a positive number of milliseconds`)
    }
    const iss = agencyOf(values, io.env)
    const signer = await signerFromFile(iss, findKey(iss, values.key, io), values.aud ?? io.env.NDX_AUDIENCE)
    const body = await readBody(values)
    let parsed: unknown
    if (body !== undefined) {
      try { parsed = JSON.parse(body) } catch { throw new UsageError('--body must be JSON') }
    }
    const url = values.url ?? io.env.NDX_URL ?? `http://127.0.0.1:${io.env.PORT ?? 8080}`
    let base: URL
    try { base = new URL(url) } catch { throw new UsageError(`--url ${url} is not a URL`) }
    const client = new NdxClient({ baseUrl: base.href, signer })
    let reply
    try {
      reply = await client.call(method.toUpperCase(), target, {
        ...(parsed === undefined ? {} : { body: parsed }),
        ...(values.purpose === undefined ? {} : { purpose: values.purpose }),
        ...(values.sub === undefined ? {} : { sub: values.sub }),
        signal: AbortSignal.timeout(timeout),
      })
    } catch (err) {
      const e = err as Error & { code?: string, cause?: { code?: string } }
      const why = e.name === 'TimeoutError' ? `no reply within ${timeout} ms` : e.code ?? e.cause?.code ?? e.message
      throw new TransportError(`cannot reach the gateway at ${base.origin}: ${why}`)
    }
    const ok = reply.status >= 200 && reply.status < 300
    const problem = reply.body as { code?: unknown, detail?: unknown } | null
    const isProblem = !ok && problem !== null && typeof problem === 'object' && typeof problem.code === 'string'
    const summary = isProblem ? `  ${String(problem.code)}: ${String(problem.detail)}` : ''
    io.err(`HTTP ${reply.status}  X-Transaction-Id: ${reply.transactionId ?? '-'}${summary}`)
    if (values.json === true) {
      io.out(jsonText({ status: reply.status, transactionId: reply.transactionId ?? null, body: reply.body }))
    } else io.out((typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body, null, 2)) + '\n')
    return ok ? EXIT.ok : EXIT.refused
  },
}
