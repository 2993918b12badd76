/**
 * Test harness: the bundled simulators on free ports, the demo configuration pointed at them, and a
 * gateway built from it (never listening unless asked). Signing helpers use the demo agencies' keys.
 */
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tap, { type Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { loadConfig } from '../../gateway/config/load-config.js'
import type { GatewayConfig } from '../../core/config-types.js'
import { projectPath } from '../../core/paths.js'
import { composeGateway } from '../../gateway/compose.js'
import { standaloneServices, type ServiceParts } from '../../gateway/services.js'
import { type GatewayServices } from '../../gateway/services.js'
import { MemorySink } from '../../gateway/txlog/sink.js'
import { startSimulators, type RunningSimulators } from '../../simulators/index.js'
import { signerFromFile, signRequest, type RequestToSign, type Signer } from '../../sdk/index.js'

export const DEMO_CONFIG = projectPath('config')

let simulators: Promise<RunningSimulators> | null = null

/** One set of simulators per test file (process), closed when the file's tests end. */
export function sharedSimulators (_t?: Test): Promise<RunningSimulators> {
  if (simulators === null) {
    simulators = startSimulators({ ports: { population: 0, civilStatus: 0, businessRegistry: 0 } })
    tap.teardown(async () => {
      const s = await simulators
      simulators = null
      await s?.close()
    })
  }
  return simulators
}

export async function demoConfig (
  t: Test,
  env: Record<string, string> = {},
  dir = DEMO_CONFIG
): Promise<GatewayConfig> {
  const sims = await sharedSimulators(t)
  return loadConfig(dir, { ...sims.env, ...env })
}

export interface TestGateway {
  readonly app: FastifyInstance
  readonly config: GatewayConfig
  readonly services: GatewayServices
  readonly sink: MemorySink
  readonly sims: RunningSimulators
}

export interface TestGatewayOptions {
  readonly config?: GatewayConfig
  /** The services, built by the test; default: standalone services over `parts`. */
  readonly services?: GatewayServices
  /** Parts of the standalone services a test replaces (a Redis replay guard, a failing sink…). */
  readonly parts?: ServiceParts
  readonly env?: Record<string, string>
}

/** A gateway composed as production composes it, over standalone services (the reuse store in memory). */
export async function buildTestGateway (t: Test, opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const sims = await sharedSimulators(t)
  const config = opts.config ?? await demoConfig(t, opts.env)
  const sink = new MemorySink()
  const services = opts.services ?? standaloneServices(config, { sink, ...opts.parts })
  const app = await composeGateway({ config, services })
  t.teardown(async () => {
    await app.close()
    await services.close()
  })
  await app.ready()
  return { app, config, services, sink: services.sink instanceof MemorySink ? services.sink : sink, sims }
}

const signers = new Map<string, Promise<Signer>>()
export function demoSigner (agency: string): Promise<Signer> {
  let s = signers.get(agency)
  if (s === undefined) {
    s = signerFromFile(agency, projectPath('demo', 'keys', `${agency}.private.jwk.json`))
    signers.set(agency, s)
  }
  return s
}

export interface SignedCall {
  readonly purpose?: string
  readonly body?: unknown
  readonly sub?: string
  /** Overrides what is signed (to forge a mismatch); defaults to what is sent. */
  readonly sign?: Partial<RequestToSign>
  readonly headers?: Record<string, string>
}

/** Signs with a demo agency's key and injects the request. */
export async function signedInject (
  app: FastifyInstance,
  agency: string,
  method: 'GET' | 'POST',
  target: string,
  opts: SignedCall = {}
): Promise<LightMyRequestResponse> {
  const body =
    opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body)
  const token = await signRequest(await demoSigner(agency), {
    method,
    target,
    ...(body === undefined ? {} : { body }),
    ...(opts.purpose === undefined ? {} : { purpose: opts.purpose }),
    ...(opts.sub === undefined ? {} : { sub: opts.sub }),
    ...opts.sign,
  })
  return app.inject({
    method,
    url: target,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...opts.headers,
    },
    ...(body === undefined ? {} : { payload: body }),
  })
}

/** A writable copy of the demo configuration, for tests that edit files. */
export async function copyConfig (t: Test, from = DEMO_CONFIG): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'ndx-config-'))
  const dir = join(base, 'config')
  await cp(from, dir, { recursive: true })
  // The demo config names files beside it (../demo/keys/…): the copy keeps that layout.
  await symlink(projectPath('demo'), join(base, 'demo'))
  t.teardown(() => rm(base, { recursive: true, force: true }))
  return dir
}

export function json (res: LightMyRequestResponse): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>
}
