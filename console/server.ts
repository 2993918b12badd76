/**
 * The auditors' console's local server: serves the page (console/public, Chart.js from node_modules) on
 * 127.0.0.1 and proxies the page's API calls to the gateway, signing each one here with the auditor's key.
 * The key never reaches the browser or the network; only signed requests do.
 *
 * It must not become a signing oracle, for the page or for anyone else who can reach it:
 * - it listens on 127.0.0.1 only and refuses any peer that is not loopback;
 * - it answers only requests whose Host is its own address (a DNS-rebound name is refused);
 * - it signs only `GET /v1/audit/...` (plain path segments: no dots, no percent-escapes), nothing else;
 * - API calls must carry this run's session token (in the page it serves, unreadable from other origins).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Dispatcher } from 'undici'
import { projectPath } from '../core/paths.js'
import type { Signer } from '../sdk/index.js'
import { signedGet, transportReason } from './auditor-session.js'

export interface ConsoleOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080. */
  readonly gateway: string
  readonly signer: Signer
  /** Default 8090; 0 picks a free port. */
  readonly port?: number
  readonly dispatcher?: Dispatcher
}

export interface RunningConsole {
  readonly url: string
  readonly server: Server
  close (): Promise<void>
}

const PUBLIC = projectPath('console', 'public')
const TYPES: Record<string, string> = { js: 'text/javascript', css: 'text/css', svg: 'image/svg+xml' }
const STATIC = /^\/app\/([a-z0-9-]+\.(js|css|svg))$/
/** The only targets signed: the auditor API, path segments of plain characters, any query. */
export const PROXIED = /^\/api(\/v1\/audit(?:\/[A-Za-z0-9_-]+)*)(\?[^#]*)?$/
const HEADERS_BACK = ['content-type', 'content-disposition', 'x-transaction-id', 'retry-after']

const SECURITY_HEADERS = {
  'content-security-policy': [
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
}

function chartJsFile (): string {
  // chart.js exports only its module entries; the UMD build sits beside them in dist/.
  return join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js')
}

export function isLoopback (address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::ffff:127.0.0.1' || address === '::1'
}

function problem (res: ServerResponse, status: number, code: string, detail: string): void {
  if (res.headersSent) { res.destroy(); return }
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/problem+json; charset=utf-8' })
  res.end(JSON.stringify({ type: `urn:ndx:problem:${code}`, title: detail, status, code, detail }))
}

export async function startConsole (opts: ConsoleOptions): Promise<RunningConsole> {
  const session = randomBytes(24).toString('base64url')
  const template = await readFile(join(PUBLIC, 'index.html'), 'utf8')
  const chartJs = chartJsFile()
  let hosts: Set<string> = new Set()

  const page = (): string => template
    .replaceAll('%SESSION%', session)
    .replaceAll('%AGENCY%', opts.signer.agencyId.replace(/[^A-Z0-9._-]/g, ''))
    .replaceAll('%GATEWAY%', opts.gateway.replace(/[<>"'&]/g, ''))

  async function serveFile (res: ServerResponse, file: string, type: string): Promise<void> {
    let body: Buffer
    try { body = await readFile(file) } catch { return problem(res, 404, 'console.not_found', 'No such file') }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-cache' })
    res.end(body)
  }

  async function proxy (res: ServerResponse, target: string): Promise<void> {
    let upstream: Dispatcher.ResponseData
    try {
      upstream = await signedGet(opts.gateway, opts.signer, target, opts.dispatcher)
    } catch (err) {
      const why = transportReason((err as Error).cause ?? err)
      return problem(res, 502, 'console.unreachable', `The gateway at ${opts.gateway} cannot be reached: ${why}`)
    }
    const headers: Record<string, string> = { ...SECURITY_HEADERS }
    for (const h of HEADERS_BACK) {
      const v = upstream.headers[h]
      if (typeof v === 'string') headers[h] = v
    }
    res.writeHead(upstream.statusCode, headers)
    // pipeline() destroys the gateway's reply too when the browser goes away mid-export.
    try {
      await pipeline(upstream.body, res)
    } catch {
      res.destroy()
    }
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) { res.writeHead(403).end(); return }
    if (!hosts.has(req.headers.host ?? '')) {
      return problem(res, 421, 'console.host', 'This console answers only at its own address (127.0.0.1)')
    }
    const url = req.url ?? '/'
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET')
      return problem(res, 405, 'console.method', 'The console only reads: GET')
    }
    if (url === '/' || url.startsWith('/?') || url === '/index.html') {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' })
      res.end(page())
      return
    }
    if (url === '/vendor/chart.umd.min.js') return serveFile(res, chartJs, 'text/javascript')
    const file = STATIC.exec(url)
    if (file !== null) return serveFile(res, join(PUBLIC, file[1] as string), TYPES[file[2] as string] ?? 'text/plain')
    if (!url.startsWith('/api/')) return problem(res, 404, 'console.not_found', 'No such page')
    const token = Buffer.from(String(req.headers['x-ndx-console'] ?? ''))
    if (token.length !== session.length || !timingSafeEqual(token, Buffer.from(session))) {
      return problem(res, 403, 'console.session', 'This request does not come from the console page: reload the page')
    }
    if (url === '/api/session') {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/json' })
      res.end(JSON.stringify({ agency: opts.signer.agencyId, keyId: opts.signer.kid, gateway: opts.gateway }))
      return
    }
    const m = PROXIED.exec(url)
    if (m === null) {
      const only = 'The console signs only reads of the auditor API (GET /v1/audit/...)'
      return problem(res, 404, 'console.not_proxied', only)
    }
    return proxy(res, (m[1] as string) + (m[2] ?? ''))
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => problem(res, 500, 'console.internal', 'The console failed to serve this request'))
  })
  const port = opts.port ?? 8090
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const actual = (server.address() as AddressInfo).port
  hosts = new Set([`127.0.0.1:${actual}`, `localhost:${actual}`])
  return {
    url: `http://127.0.0.1:${actual}`,
    server,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}
