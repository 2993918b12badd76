/**
 * Whether a request target is in the /v1 space, in any spelling the router would serve as /v1, and the
 * request line of a head the parser refused: what decides that a request is a transaction (CONTRACT §7).
 */

export function isV1Path (url: string): boolean {
  return url.startsWith('/v1/') || url === '/v1' || url.startsWith('/v1?')
}

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i

/**
 * Whether a request target is in the /v1 space in any spelling: origin-form, absolute-form
 * (`http://host/v1/...`) or with a percent-encoded prefix (`/%76%31/...`), which the router serves as /v1.
 */
export function isV1 (url: string): boolean {
  if (isV1Path(url)) return true
  let path = url
  const absolute = ABSOLUTE_FORM.exec(path)
  if (absolute !== null) path = path.slice(absolute[0].length)
  if (path.includes('%')) {
    path = path.slice(0, 16).replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
  }
  return path !== url && isV1Path(path)
}

const REQUEST_LINE = /^(?:\r?\n){0,2}([!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}) (\S{1,2048})([ \t\r\n]?)/

/**
 * The method of the request line at the start of `raw` (a head's first bytes, or what a parser error left)
 * and whether its target is in the /v1 space, or null. Only the method and the first token of the target
 * are read: the rest of the line may be what broke the parse. The target may be cut short (only the
 * head's start is kept): an unterminated one counts as /v1 only if it does without its last character, so
 * `/v1` cut off before `x` is not taken for /v1.
 */
export function requestLine (raw: Buffer | undefined): { method: string, v1: boolean } | null {
  if (raw === undefined) return null
  const m = REQUEST_LINE.exec(raw.subarray(0, 2100).toString('latin1'))
  if (m === null) return null
  const target = m[2] as string
  return { method: m[1] as string, v1: m[3] === '' ? isV1(target.slice(0, -1)) : isV1(target) }
}
