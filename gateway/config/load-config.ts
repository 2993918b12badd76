/**
 * Reads and validates a configuration directory (CONTRACT §2) — the one place configuration is read.
 * Every file is checked against its JSON Schema, then the files are checked against each other. Any issue
 * refuses the whole directory; each issue names its file, a JSON pointer into it, and the reason.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { basename, extname, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { JWK } from 'jose'
import type { AgencySpec, ConfigIssue, GatewayConfig, GatewaySpec, ServiceSpec } from './types.js'
import { substituteEnv } from './env-refs.js'
import { compileSchema } from './schema-validator.js'
import { checkAgencies, checkGateway, checkServices } from './cross-checks.js'
import { toAgency, toGateway, toService, type RawAgency, type RawGateway, type RawService } from './normalize.js'

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[]
  constructor (issues: readonly ConfigIssue[]) {
    super(`configuration refused: ${issues.length} issue(s)\n` + issues.map((i) => `  ${i.file} ${i.path || '/'}: ${i.reason}`).join('\n'))
    this.name = 'ConfigError'
    this.issues = issues
  }
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json'])
const validateGateway = compileSchema('gateway')
const validateAgency = compileSchema('agency')
const validateAdapter = compileSchema('adapter')

interface ParsedFile { file: string, stem: string, data: unknown }

async function listConfigFiles (dir: string, sub: string, issues: ConfigIssue[]): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(join(dir, sub))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    issues.push({ file: sub, path: '', reason: `cannot read directory: ${(err as Error).message}` })
    return []
  }
  return names.filter((n) => EXTENSIONS.has(extname(n)) && !n.startsWith('.')).sort().map((n) => join(sub, n))
}

async function readConfigFile (dir: string, file: string, env: Readonly<Record<string, string | undefined>>, issues: ConfigIssue[], hash: ReturnType<typeof createHash>): Promise<ParsedFile | null> {
  let text: string
  try {
    text = await readFile(join(dir, file), 'utf8')
  } catch (err) {
    issues.push({ file, path: '', reason: `cannot read file: ${(err as Error).message}` })
    return null
  }
  hash.update(file).update('\0').update(text).update('\0')
  let data: unknown
  try {
    // JSON is YAML 1.2, so one parser reads both; duplicate keys are an error, aliases are bounded.
    data = parseYaml(text, { uniqueKeys: true, maxAliasCount: 100, prettyErrors: true })
  } catch (err) {
    issues.push({ file, path: '', reason: `not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}` })
    return null
  }
  const envIssues: Array<{ path: string, reason: string }> = []
  data = substituteEnv(data, env, '', envIssues)
  for (const i of envIssues) issues.push({ file, ...i })
  return { file, stem: basename(file, extname(file)), data }
}

function validate (validator: ReturnType<typeof compileSchema>, parsed: ParsedFile, issues: ConfigIssue[]): boolean {
  const found = validator(parsed.data)
  for (const i of found) issues.push({ file: parsed.file, ...i })
  return found.length === 0
}

/**
 * Loads `dir`, substituting `${NAME}` from `env`. Resolves with a frozen configuration, or rejects with a
 * `ConfigError` listing every issue found.
 */
export async function loadConfig (dir: string, env: Readonly<Record<string, string | undefined>>): Promise<GatewayConfig> {
  const issues: ConfigIssue[] = []
  const hash = createHash('sha256')

  const gatewayFiles = (await readdir(dir).catch(() => null))
  if (gatewayFiles === null) throw new ConfigError([{ file: dir, path: '', reason: 'configuration directory not found' }])
  const gatewayNames = gatewayFiles.filter((n) => /^gateway\.(ya?ml|json)$/.test(n))
  if (gatewayNames.length !== 1) {
    issues.push({ file: 'gateway.yaml', path: '', reason: gatewayNames.length === 0 ? 'missing' : `found ${gatewayNames.join(' and ')}; keep one` })
  }

  let gateway: GatewaySpec | null = null
  const gatewayFile = gatewayNames.length === 1 ? await readConfigFile(dir, gatewayNames[0] as string, env, issues, hash) : null
  if (gatewayFile !== null && validate(validateGateway, gatewayFile, issues)) {
    const raw = gatewayFile.data as RawGateway
    checkGateway(raw, gatewayFile.file, issues)
    gateway = toGateway(raw)
  }

  const services: Record<string, ServiceSpec> = {}
  // Services whose own file is refused: grants naming them are not reported again.
  const broken = new Set<string>()
  for (const file of await listConfigFiles(dir, 'adapters', issues)) {
    const parsed = await readConfigFile(dir, file, env, issues, hash)
    if (parsed === null || !validate(validateAdapter, parsed, issues)) {
      broken.add(basename(file, extname(file)))
      continue
    }
    const raw = parsed.data as RawService
    if (raw.service !== parsed.stem) {
      issues.push({ file, path: '/service', reason: `must match the file name (${parsed.stem})` })
      continue
    }
    if (services[raw.service] !== undefined) {
      issues.push({ file, path: '/service', reason: `service ${raw.service} is defined twice` })
      continue
    }
    services[raw.service] = toService(raw, file)
  }
  checkServices(services, issues)

  const agencies: Record<string, AgencySpec> = {}
  for (const file of await listConfigFiles(dir, 'agencies', issues)) {
    const parsed = await readConfigFile(dir, file, env, issues, hash)
    if (parsed === null || !validate(validateAgency, parsed, issues)) continue
    const raw = parsed.data as RawAgency
    if (raw.id !== parsed.stem) {
      issues.push({ file, path: '/id', reason: `must match the file name (${parsed.stem})` })
      continue
    }
    if (agencies[raw.id] !== undefined) {
      issues.push({ file, path: '/id', reason: `agency ${raw.id} is defined twice` })
      continue
    }
    agencies[raw.id] = toAgency(raw, file)
  }
  checkAgencies(agencies, services, issues, broken)

  if (issues.length > 0 || gateway === null) throw new ConfigError(issues)
  return deepFreeze({ dir, gateway, agencies, services, digest: hash.digest('hex').slice(0, 16) })
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v)
  }
  return value
}

export type { JWK }
