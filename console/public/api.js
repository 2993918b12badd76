// Calls to the auditor API through the console's local server, which signs them; errors in words.
const session = document.querySelector('meta[name="ndx-session"]')?.content ?? ''

export class ApiError extends Error {
  constructor (message, status, code, body) {
    super(message)
    this.status = status
    this.code = code
    this.body = body
  }
}

export function queryString (params = {}) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s === '' ? '' : `?${s}`
}

/** A sentence for a refusal or failure: what happened and what to do. */
export function explain (status, body) {
  const code = body?.code
  const detail = body?.detail ? `: ${body.detail}` : ''
  if (code === 'console.unreachable') return `${body.detail}. Is the gateway running? Check --url.`
  if (code === 'console.session') return 'This page belongs to an earlier run of the console: reload the page.'
  if (status === 401) {
    return `The gateway refused the console's key (${status} ${code ?? ''}${detail}). ` +
      'Check that --iss names your agency and --key is its registered private key.'
  }
  if (code === 'access.role') return `This needs the auditor role (${status} ${code}${detail}).`
  if (status === 403) return `The gateway refused this request (${status} ${code ?? ''}${detail}).`
  const what = `${status} ${code ?? ''}${detail}`
  if (status === 503) return `The gateway cannot serve audit requests now (${what}). Try again shortly.`
  if (code === 'request.invalid') {
    const errors = (body.errors ?? []).map((e) => ` — ${e.name} ${e.reason}`).join('')
    return `The gateway did not accept the query${detail}${errors}.`
  }
  return `The gateway answered ${status}${code ? ` ${code}` : ''}${detail}.`
}

async function send (path, params) {
  try {
    return await fetch(`/api${path}${queryString(params)}`, { headers: { 'x-ndx-console': session } })
  } catch {
    const why = 'The console\'s local server is not answering: is `ndx console` still running?'
    throw new ApiError(why, 0, 'console.down')
  }
}

/** GET an auditor API path (e.g. `/v1/audit/counts`) and parse its JSON reply. */
export async function api (path, params) {
  const res = await send(path, params)
  const text = await res.text()
  let body = null
  try { body = JSON.parse(text) } catch { /* handled below */ }
  if (!res.ok) throw new ApiError(explain(res.status, body), res.status, body?.code, body)
  if (body === null || typeof body !== 'object') {
    const why = 'The gateway answered something that is not JSON: is --url an ndx gateway?'
    throw new ApiError(why, res.status, 'console.not_json')
  }
  return body
}

/** Downloads an export through the local server (held in memory: use `ndx audit export` for big ones). */
export async function download (path, params, filename) {
  const res = await send(path, params)
  if (!res.ok) {
    let body = null
    try { body = await res.json() } catch { /* not JSON */ }
    throw new ApiError(explain(res.status, body), res.status, body?.code, body)
  }
  const url = URL.createObjectURL(await res.blob())
  const a = Object.assign(document.createElement('a'), { href: url, download: filename })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/** Every page of a listing, up to `max` records. */
export async function listAll (params, max = 10_000) {
  const items = []
  let cursor
  do {
    const page = await api('/v1/audit/transactions', { ...params, limit: 1000, cursor })
    items.push(...page.items)
    cursor = page.nextCursor
  } while (cursor && items.length < max)
  return { items, complete: !cursor }
}
