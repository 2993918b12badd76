// Overview: totals, traffic over time (a stacked bar chart), top agencies, services, refusal codes, purposes.
import { api, ApiError, listAll } from './api.js'
import { el, fmtInt, ranking, replace } from './dom.js'

const OUTCOME_COLORS = { ok: '#2e7d32', not_found: '#78909c', denied: '#ef6c00', rejected: '#c62828', error: '#6a1b9a' }
const PALETTE = ['#1565c0', '#2e7d32', '#ef6c00', '#6a1b9a', '#c62828', '#00838f', '#9e9d24', '#5d4037', '#ad1457',
  '#455a64']
let chart = null

/** Every bucket start (UTC) from `from` to `to`, so quiet hours show as zero, not as nothing. */
export function buckets (from, to, unit) {
  const out = []
  const d = new Date(from)
  if (unit === 'day') d.setUTCHours(0, 0, 0, 0)
  else d.setUTCMinutes(0, 0, 0)
  const end = new Date(to)
  while (d < end && out.length < 2000) {
    out.push(unit === 'day' ? d.toISOString().slice(0, 10) : d.toISOString())
    if (unit === 'day') d.setUTCDate(d.getUTCDate() + 1)
    else d.setUTCHours(d.getUTCHours() + 1)
  }
  return out
}

function drawTraffic (counts, unit, split, w) {
  const labels = buckets(w.from, w.to, unit)
  const index = new Map(labels.map((l, i) => [l, i]))
  const series = new Map()
  for (const g of counts.groups) {
    const key = g[split] ?? '(none)'
    if (!series.has(key)) series.set(key, new Array(labels.length).fill(0))
    const i = index.get(g[unit])
    if (i !== undefined) series.get(key)[i] += g.count
  }
  const sorted = [...series.entries()].sort((a, b) => String(a[0]).localeCompare(String(b[0])))
  const color = (label, i) => split === 'outcome' ? OUTCOME_COLORS[label] ?? '#999' : PALETTE[i % PALETTE.length]
  const datasets = sorted.map(([label, data], i) => ({ label, data, backgroundColor: color(label, i), stack: 'all' }))
  const canvas = document.getElementById('traffic-chart')
  if (globalThis.Chart === undefined) {
    canvas.replaceWith(el('p', { class: 'banner' },
      'The charting library did not load (node_modules/chart.js): run npm ci.'))
    return
  }
  chart?.destroy()
  chart = new globalThis.Chart(canvas, {
    type: 'bar',
    data: { labels: labels.map((l) => unit === 'day' ? l : l.slice(5, 13).replace('T', ' ') + 'h'), datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: 'bottom' } },
    },
  })
}

/** A grouping the gateway may not offer yet (purpose, code): fall back to tallying a sample of records. */
async function grouped (w, groupBy, filter = {}) {
  try {
    return { groups: (await api('/v1/audit/counts', { ...w, ...filter, groupBy })).groups, note: null }
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 'request.invalid') throw err
    const { items, complete } = await listAll({ ...w, ...filter }, 5000)
    const keys = groupBy.split(',')
    const tally = new Map()
    for (const r of items) {
      const k = JSON.stringify(keys.map((key) => r[key] ?? null))
      tally.set(k, (tally.get(k) ?? 0) + 1)
    }
    const groups = [...tally].map(([k, count]) => {
      const values = JSON.parse(k)
      return { ...Object.fromEntries(keys.map((key, i) => [key, values[i]])), count }
    })
    const from = `${complete ? 'all' : 'the first'} ${fmtInt(items.length)} records`
    return { groups, note: `Tallied from ${from}: this gateway cannot group by ${keys.join(' and ')}.` }
  }
}

const top = (groups, key, n = 10) => groups.map((g) => [g[key], g.count]).sort((a, b) => b[1] - a[1]).slice(0, n)

export async function renderOverview (w, opts) {
  const short = new Date(w.to) - new Date(w.from) <= 72 * 3_600_000
  const unit = opts.bucket !== 'auto' ? opts.bucket : short ? 'hour' : 'day'
  const [byOutcome, traffic, clients, services] = await Promise.all([
    api('/v1/audit/counts', { ...w, groupBy: 'outcome' }),
    api('/v1/audit/counts', { ...w, groupBy: `${unit},${opts.split}` }),
    api('/v1/audit/counts', { ...w, groupBy: 'client' }),
    api('/v1/audit/counts', { ...w, groupBy: 'service' }),
  ])
  const n = (o) => byOutcome.groups.filter((g) => o.includes(g.outcome)).reduce((s, g) => s + g.count, 0)
  const box = (id, label, value) => el('div', { class: 'total', id }, el('b', {}, fmtInt(value)), el('span', {}, label))
  replace('totals',
    box('total-all', 'transactions', byOutcome.total), box('total-ok', 'served', n(['ok'])),
    box('total-refused', 'refused (denied, rejected)', n(['denied', 'rejected'])),
    box('total-not-found', 'not found', n(['not_found'])), box('total-error', 'failed', n(['error'])))
  const applied = byOutcome.window ?? w
  const how = byOutcome.window ? ' (as the gateway applied it)' : ''
  replace('window-note', `UTC ${unit}s, ${applied.from} → ${applied.to}${how}`)
  drawTraffic(traffic, unit, opts.split, w)
  replace('top-clients', ranking(top(clients.groups, 'client')))
  replace('top-services', ranking(top(services.groups, 'service')))

  const [codes, purposes] = await Promise.all([grouped(w, 'code'), grouped(w, 'service,purpose')])
  const coded = codes.groups.filter((g) => g.code !== null && g.code !== undefined)
  replace('top-codes', ranking(top(coded, 'code'), 'No refusals in this window'),
    codes.note ? el('p', { class: 'muted small' }, codes.note) : '')
  const bySvc = new Map()
  for (const g of purposes.groups) {
    const s = g.service ?? '(none)'
    if (!bySvc.has(s)) bySvc.set(s, [])
    bySvc.get(s).push(`${g.purpose ?? '(no purpose)'} ${fmtInt(g.count)}`)
  }
  replace('purposes', bySvc.size === 0
    ? el('p', { class: 'muted' }, 'Nothing in this window')
    : el('dl', {}, [...bySvc].sort().flatMap(([s, ps]) => [el('dt', {}, s), el('dd', {}, ps.join(' · '))])),
  purposes.note ? el('p', { class: 'muted small' }, purposes.note) : '')
}
