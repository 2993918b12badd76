/**
 * `${NAME}` substitution in configuration values, applied to parsed string values (never to raw text, so
 * an environment value cannot inject YAML). `${NAME:-default}` gives a default; `$${` is a literal `${`.
 */
const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

export interface EnvIssue { path: string, reason: string }

export function substituteEnv (
  node: unknown,
  env: Readonly<Record<string, string | undefined>>,
  path = '',
  issues: { push(i: EnvIssue): unknown } = []
): unknown {
  if (typeof node === 'string') {
    return node.replace(REF, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === '$${') return '${'
      const value = env[name as string]
      if (value !== undefined && value !== '') return value
      if (fallback !== undefined) return fallback
      const reason = `environment variable ${name as string} is not set ` +
      `(give it a value, or a default: \${${name as string}:-value})`
      issues.push({ path, reason })
      return ''
    })
  }
  if (Array.isArray(node)) return node.map((v, i) => substituteEnv(v, env, `${path}/${i}`, issues))
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(node)) { out[k] = substituteEnv(v, env, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, issues) }
    return out
  }
  return node
}
