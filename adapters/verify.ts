/**
 * How a claimed value is compared with the registry's. Names and addresses are compared the way a clerk
 * would: Unicode-normalised (NFC), case-insensitive, with runs of whitespace collapsed. Everything else
 * (dates, codes, person references by their normalised members) must be equal.
 */
function normalise (value: unknown): unknown {
  if (typeof value === 'string') return value.normalize('NFC').trim().replace(/\s+/g, ' ').toLocaleLowerCase('vi')
  if (Array.isArray(value)) return value.map(normalise)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) out[key] = normalise((value as Record<string, unknown>)[key])
    return out
  }
  return value ?? null
}

export function sameClaim (claimed: unknown, actual: unknown): boolean {
  return JSON.stringify(normalise(claimed)) === JSON.stringify(normalise(actual))
}
