// Integrity: the chain check's verdict and problems, the signed checkpoints and the keys that verify them.
import { api, ApiError } from './api.js'
import { el, fmtInt, fmtTime, replace, table } from './dom.js'

function roleNote (err) {
  return el('p', { class: 'note' },
    `${err.message} An agency without it sees only its own records and cannot check the chain.`)
}

/** `problems` is CONTRACT v1.1; an older gateway names only the first invalid record. */
function problemCount (verdict, problems) {
  if (problems === null) return verdict.ok ? 'none' : 'see the first invalid record'
  return problems.length === 0 ? 'none' : String(problems.length)
}

export async function renderIntegrity (w) {
  replace('integrity-result', el('p', { class: 'muted' }, 'Checking the chain…'))
  let verdict
  try {
    verdict = await api('/v1/audit/integrity', w)
  } catch (err) {
    if (err instanceof ApiError && err.code === 'access.role') {
      replace('integrity-result', roleNote(err))
      replace('checkpoints')
      replace('keys')
      return
    }
    replace('integrity-result')
    throw err
  }
  const problems = verdict.problems ?? null
  replace('integrity-result', el('div', { class: 'card', id: 'verdict' },
    el('p', { class: `verdict ${verdict.ok ? 'good' : 'bad'}` },
      verdict.ok ? '✓ ok: the chain is intact' : '✗ NOT ok: the log was altered'),
    el('dl', {},
      el('dt', {}, 'records checked'), el('dd', { id: 'checked' }, fmtInt(verdict.checked)),
      el('dt', {}, 'first invalid record'), el('dd', { class: 'mono' }, verdict.firstInvalid ?? '—'),
      el('dt', {}, 'problems found'), el('dd', {}, problemCount(verdict, problems)),
      el('dt', {}, 'last check'), el('dd', {}, `${new Date().toISOString()} (window ${w.from} → ${w.to})`)),
    problems && problems.length > 0
      ? table([['kind', (p) => p.kind], ['from seq', (p) => String(p.fromSeq)], ['to seq', (p) => String(p.toSeq)]],
        problems)
      : ''))
  await renderCheckpoints(w)
}

async function renderCheckpoints (w, cursor, rows = []) {
  const res = await api('/v1/audit/checkpoints', cursor ? { ...w, cursor } : w)
  rows.push(...res.items)
  replace('checkpoints', rows.length === 0
    ? el('p', { class: 'muted' }, 'No checkpoint in this window.')
    : table([
      ['seq', (c) => fmtInt(c.seq)], ['time (UTC)', (c) => fmtTime(c.time)], ['key', (c) => c.kid ?? '—'],
      ['hash', (c) => el('span', { class: 'mono', title: c.hash }, `${c.hash.slice(0, 16)}…`)],
    ], rows), res.nextCursor ? el('button', { onclick: () => renderCheckpoints(w, res.nextCursor, rows) }, 'More') : '')
  let keys
  try {
    keys = (await api('/v1/audit/keys')).keys
  } catch (err) {
    // Gateways before CONTRACT v1.1 give the one current key with the checkpoints.
    if (!(err instanceof ApiError) || err.status !== 404) throw err
    keys = res.key ? [res.key] : []
  }
  replace('keys', keys.length === 0
    ? el('p', { class: 'muted' }, 'The gateway signs no checkpoints (no checkpoint key configured).')
    : table([['kid', (k) => k.kid ?? '—'], ['type', (k) => [k.kty, k.crv, k.alg].filter(Boolean).join(' ')],
      ['public key', (k) => el('span', { class: 'mono' }, `${(k.x ?? k.n ?? '').slice(0, 24)}…`)]], keys))
}
