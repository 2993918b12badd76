/**
 * Reads and validates a configuration directory (CONTRACT §2) — the one place configuration is read.
 * Every file is checked against its JSON Schema, then the files are checked against each other and the
 * files they name are read. Any issue refuses the whole directory; each issue names its file, line, a JSON
 * pointer into it, and the reason. `ndx config check` and the gateway (startup and reload) call this alike.
 *
 * One mistake, one message: an issue inside a member that already has one (a missing environment variable,
 * then the pattern its empty value fails) is not reported again.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { basename, extname, join } from 'node:path'
import type { JWK } from 'jose'
import type {
  AgencySpec,
  ConfigIssue,
  GatewayConfig,
  GatewaySpec,
  IssueSink,
  ServiceSpec,
} from '../../core/config-types.js'
import { substituteEnv } from './env-refs.js'
import { compileSchema } from './schema-validator.js'
import { checkAgencies, checkGateway, checkServices } from './cross-checks.js'
import { checkGatewayFiles } from './file-checks.js'
import { parseSource } from './yaml-source.js'
import { salvageAgency, toAgency, toGateway, toService } from './normalize.js'
import type { RawAgency, RawGateway, RawService } from './normalize.js'

/** `file:line /path: reason` — the form of every issue, in messages and in `ndx config check`. */
export function formatIssue (i: ConfigIssue): string {
  return `${i.file}${i.line === undefined ? '' : `:${i.line}`} ${i.path || '/'}: ${i.reason}`
}

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[]
  constructor (issues: readonly ConfigIssue[]) {
    super(`configuration refused: ${issues.length} issue(s)\n` + issues.map((i) => `  ${formatIssue(i)}`).join('\n'))
    this.name = 'ConfigError'
    this.issues = issues
  }
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json'])
const validateGateway = compileSchema('gateway')
const validateAgency = compileSchema('agency')
const validateAdapter = compileSchema('adapter')

/** Issues of one file, by stage: a later stage's issue inside an earlier one's member is a cascade. */
type Stage = 'env' | 'schema' | 'cross'
interface StagedIssue extends ConfigIssue { stage: Stage }

class IssueList {
  readonly #issues: StagedIssue[] = []
  readonly #lines = new Map<string, (pointer: string) => number | undefined>()

  add (stage: Stage, issue: ConfigIssue): void { this.#issues.push({ ...issue, stage }) }
  /** A sink for one stage's checker; `file` is filled in for checkers that do not know it. */
  sink (stage: Stage, file?: string): IssueSink {
    return { push: (i: Omit<ConfigIssue, 'file'> & { file?: string }) => this.add(stage, { file: file ?? '', ...i }) }
  }

  locate (file: string, line: (pointer: string) => number | undefined): void { this.#lines.set(file, line) }
  get empty (): boolean { return this.#issues.length === 0 }

  final (): ConfigIssue[] {
    const under = (p: string, q: string): boolean => p === q || p.startsWith(`${q}/`)
    // j hides i: an env issue hides later-stage issues below it, a schema issue hides cross-check issues below it.
    const hides = (j: StagedIssue, i: StagedIssue): boolean => j !== i && j.file === i.file && j.path !== '' &&
      (j.stage === 'env' ? i.stage !== 'env' : j.stage === 'schema' && i.stage === 'cross') && under(i.path, j.path)
    const kept = this.#issues.filter((i) => !this.#issues.some((j) => hides(j, i)))
    const located = kept.map(({ stage: _s, ...i }) =>
      i.line !== undefined ? i : { ...i, ...lineOf(this.#lines.get(i.file), i.path) })
    // Files in the order they are read, and each file's issues top to bottom, as a person fixes them.
    const rank = (f: string): number => f.startsWith('gateway.') ? 0 : f.startsWith('adapters/') ? 1 : 2
    return located.sort((a, b) => rank(a.file) - rank(b.file) || a.file.localeCompare(b.file) ||
      (a.line ?? 0) - (b.line ?? 0))
  }
}

function lineOf (locate: ((p: string) => number | undefined) | undefined, path: string): { line?: number } {
  const line = locate?.(path)
  return line === undefined ? {} : { line }
}

interface ParsedFile { file: string, stem: string, data: unknown }

async function listConfigFiles (dir: string, sub: string, issues: IssueList): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(join(dir, sub))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    issues.add('schema', { file: sub, path: '', reason: `cannot read directory: ${(err as Error).message}` })
    return []
  }
  return names.filter((n) => EXTENSIONS.has(extname(n)) && !n.startsWith('.')).sort().map((n) => join(sub, n))
}

async function readConfigFile (
  dir: string, file: string, env: Readonly<Record<string, string | undefined>>, issues: IssueList,
  hash: ReturnType<typeof createHash>
): Promise<ParsedFile | null> {
  let text: string
  try {
    text = await readFile(join(dir, file), 'utf8')
  } catch (err) {
    issues.add('schema', { file, path: '', reason: `cannot read file: ${(err as Error).message}` })
    return null
  }
  hash.update(file).update('\0').update(text).update('\0')
  const source = parseSource(text)
  if (Array.isArray(source)) {
    for (const e of source) {
      issues.add('schema', { file, path: '', reason: e.reason, ...(e.line === undefined ? {} : { line: e.line }) })
    }
    return null
  }
  issues.locate(file, source.line)
  const data = substituteEnv(source.data, env, '', issues.sink('env', file))
  return { file, stem: basename(file, extname(file)), data }
}

function validate (validator: ReturnType<typeof compileSchema>, parsed: ParsedFile, issues: IssueList): boolean {
  const found = validator(parsed.data)
  for (const i of found) issues.add('schema', { file: parsed.file, ...i })
  return found.length === 0
}

function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * Loads `dir`, substituting `${NAME}` from `env`. Resolves with a frozen configuration, or rejects with a
 * `ConfigError` listing every issue found.
 */
export async function loadConfig (
  dir: string,
  env: Readonly<Record<string, string | undefined>>
): Promise<GatewayConfig> {
  const issues = new IssueList()
  const hash = createHash('sha256')

  const gatewayFiles = await readdir(dir).catch(() => null)
  if (gatewayFiles === null) {
    throw new ConfigError([{ file: dir, path: '', reason: 'configuration directory not found' }])
  }
  const gatewayNames = gatewayFiles.filter((n) => /^gateway\.(ya?ml|json)$/.test(n))
  if (gatewayNames.length !== 1) {
    const reason = gatewayNames.length === 0 ? 'missing' : `found ${gatewayNames.join(' and ')}; keep one`
    issues.add('schema', { file: 'gateway.yaml', path: '', reason })
  }

  let gateway: GatewaySpec | null = null
  const gatewayFile =
    gatewayNames.length === 1 ? await readConfigFile(dir, gatewayNames[0] as string, env, issues, hash) : null
  if (gatewayFile !== null) {
    const valid = validate(validateGateway, gatewayFile, issues)
    const raw = gatewayFile.data as RawGateway
    // Cross-file checks run on an invalid file too, as far as its shape allows.
    if (isObject(raw) && isObject(raw.secrets)) {
      const keys: unknown = raw.secrets.cacheKeys
      if (Array.isArray(keys) && keys.every((k) => isObject(k) && typeof k.key === 'string')) {
        checkGateway(raw, gatewayFile.file, issues.sink('cross'))
      }
      const secrets = raw.secrets as unknown as Record<string, unknown>
      await checkGatewayFiles(dir, secrets, gatewayFile.file, issues.sink('cross'))
    }
    if (valid) gateway = toGateway(raw)
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
      issues.add('cross', { file, path: '/service', reason: `must match the file name (${parsed.stem})` })
      continue
    }
    if (services[raw.service] !== undefined) {
      issues.add('cross', { file, path: '/service', reason: `service ${raw.service} is defined twice` })
      continue
    }
    services[raw.service] = toService(raw, file)
  }
  checkServices(services, issues.sink('cross'))

  const agencies: Record<string, AgencySpec> = {}
  const salvaged: Record<string, AgencySpec> = {}
  for (const file of await listConfigFiles(dir, 'agencies', issues)) {
    const parsed = await readConfigFile(dir, file, env, issues, hash)
    if (parsed === null) continue
    if (!validate(validateAgency, parsed, issues)) {
      // Still check what can be checked (grants, keys, sources) so one run shows every mistake of the file.
      const partial = salvageAgency(parsed.data, file)
      if (partial !== null) salvaged[file] = partial
      continue
    }
    const raw = parsed.data as RawAgency
    if (raw.id !== parsed.stem) {
      issues.add('cross', { file, path: '/id', reason: `must match the file name (${parsed.stem})` })
      continue
    }
    if (agencies[raw.id] !== undefined) {
      issues.add('cross', { file, path: '/id', reason: `agency ${raw.id} is defined twice` })
      continue
    }
    agencies[raw.id] = toAgency(raw, file)
  }
  checkAgencies({ ...agencies, ...salvaged }, services, issues.sink('cross'), broken)

  if (!issues.empty || gateway === null) throw new ConfigError(issues.final())
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
