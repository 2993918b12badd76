/**
 * "did you mean `purposes`?" — the closest known name to a mistyped one, when it is close enough to be
 * the likely intent (an edit distance of at most a third of the name, at least 1; or a prefix).
 */
function distance (a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = row[j] as number
      row[j] = next
    }
  }
  return row[b.length] as number
}

/** The known name closest to `name`, or undefined when none is close. Case is ignored when comparing. */
export function closest (name: string, known: Iterable<string>): string | undefined {
  const lower = name.toLowerCase()
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const c = candidate.toLowerCase()
    const prefix = Math.min(c.length, lower.length) >= 3 && (c.startsWith(lower) || lower.startsWith(c))
    const d = prefix ? 1 : distance(lower, c)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined
}

/** ` (did you mean \`x\`?)`, or nothing. */
export function suggestion (name: string, known: Iterable<string>): string {
  const c = closest(name, known)
  return c === undefined ? '' : ` (did you mean \`${c}\`?)`
}
