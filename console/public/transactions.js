// The transaction table: filters, cursor paging, a record's detail, and export of what the filters match.
import { api, download } from './api.js'
import { badge, el, fmtTime, replace, table } from './dom.js'

const PAGE = 50
const FILTERS = ['client', 'service', 'operation', 'outcome', 'source', 'purpose', 'code']
let cursors = [undefined]
let page = 0
let current = { w: null, filters: {} }

export function readFilters () {
  const form = document.getElementById('filters')
  return Object.fromEntries(FILTERS.map((f) => [f, form.elements[f].value.trim()]).filter(([, v]) => v !== ''))
}

export async function showRecord (record) {
  const full = await api(`/v1/audit/transactions/${encodeURIComponent(record.id)}`)
  const box = replace('detail',
    el('h2', {}, `Transaction ${full.id}`),
    el('dl', {}, Object.entries(full).flatMap(([k, v]) => [
      el('dt', {}, k),
      el('dd', { class: typeof v === 'string' && v.length > 40 ? 'mono' : '' },
        v === null ? '—' : Array.isArray(v) ? v.join(', ') : String(v)),
    ])))
  box.hidden = false
  box.scrollIntoView({ block: 'nearest' })
}

async function load () {
  const params = { ...current.w, ...current.filters, limit: PAGE, cursor: cursors[page] }
  const res = await api('/v1/audit/transactions', params)
  cursors[page + 1] = res.nextCursor ?? undefined
  replace('tx-table', res.items.length === 0
    ? el('p', { class: 'muted' }, 'No record matches.')
    : table([
      ['time (UTC)', (r) => fmtTime(r.time)],
      ['agency', (r) => r.client ?? '(unidentified)'],
      ['service · operation', (r) => `${r.service ?? '—'} · ${r.operation ?? '—'}`],
      ['purpose', (r) => r.purpose ?? '—'],
      ['outcome', (r) => badge(r.outcome)],
      ['status', (r) => String(r.status)],
      ['code', (r) => r.code ?? '—'],
      ['source', (r) => r.source ?? '—'],
    ], res.items, showRecord))
  document.getElementById('prev').disabled = page === 0
  document.getElementById('next').disabled = !res.nextCursor
  replace('page-no', `page ${page + 1}${res.window ? ` · ${res.window.from} → ${res.window.to}` : ''}`)
}

export async function renderTransactions (w) {
  current = { w, filters: readFilters() }
  cursors = [undefined]
  page = 0
  document.getElementById('detail').hidden = true
  await load()
}

export function wireTransactions (guard) {
  document.getElementById('next').addEventListener('click', () => guard(async () => { page++; await load() }))
  document.getElementById('prev').addEventListener('click', () => guard(async () => {
    page = Math.max(0, page - 1)
    await load()
  }))
  for (const format of ['csv', 'ndjson']) {
    document.getElementById(`export-${format}`).addEventListener('click', () => guard(() =>
      download('/v1/audit/export', { ...current.w, ...readFilters(), format }, `ndx-audit.${format}`)))
  }
}
