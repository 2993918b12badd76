/**
 * Real gateway processes for the platform tests: `gateway/main/gateway.ts` run by Node (through tsx), as
 * `npm run gateway` runs it, with its own environment; its JSON log lines are kept for assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Test } from 'tap'
import { projectPath } from '../../core/paths.js'
import { childEnv } from '../helpers/child-env.js'

export interface GatewayProcess {
  readonly child: ChildProcess
  readonly url: string
  /** Every log line so far, parsed. */
  readonly logs: Array<Record<string, unknown>>
  stop (): Promise<void>
}

export async function startGatewayProcess (t: Test, env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', projectPath('gateway', 'main', 'gateway.ts')], {
    cwd: projectPath(),
    env: childEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const logs: Array<Record<string, unknown>> = []
  let rest = ''
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await once(child, 'exit')
    clearTimeout(timer)
  }
  t.teardown(stop)
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>
          logs.push(entry)
          if (entry.msg === 'gateway listening') resolve(entry.url as string)
        } catch { /* not a log line */ }
      }
    })
    child.once('exit', (code) =>
      reject(
        new Error(`gateway exited (${code}) before listening:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`)
      )
    )
  })
  return { child, url, logs, stop }
}

export interface Reply { status: number, headers: Headers, body: Record<string, unknown> }

/** A signed call to a running gateway, as the demo agency `agency`. */
export async function signedCall (
  url: string,
  agency: string,
  method: 'GET' | 'POST',
  target: string,
  opts: { purpose?: string; body?: unknown; headers?: Record<string, string> } = {}
): Promise<Reply> {
  const { signRequest } = await import('../../sdk/index.js')
  const { demoSigner } = await import('../helpers/gateway.js')
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body)
  const token = await signRequest(await demoSigner(agency), {
    method,
    target,
    ...(body === undefined ? {} : { body }),
    ...(opts.purpose === undefined ? {} : { purpose: opts.purpose }),
  })
  const res = await fetch(url + target, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...opts.headers,
    },
    ...(body === undefined ? {} : { body }),
  })
  const text = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  }
}
