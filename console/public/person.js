// "Who looked at this person": every attempt on a subject, refused ones included (CONTRACT §7 `subject`).
import { listAll } from './api.js'
import { badge, el, fmtInt, fmtTime, replace, table } from './dom.js'

export async function renderPerson (w, subject, showRecord) {
  replace('person-result', el('p', { class: 'muted' }, 'Searching…'))
  const { items, complete } = await listAll({ ...w, subject }, 10_000)
  const count = (outcomes) => items.filter((r) => outcomes.includes(r.outcome)).length
  // An attempt whose token did not verify has no agency (its claimed one is shown, never counted as it).
  const agencies = new Set(items.filter((r) => r.client !== null).map((r) => r.client))
  const unidentified = items.filter((r) => r.client === null).length
  const summary = el('p', { id: 'person-summary' },
    el('b', {}, `${fmtInt(items.length)} attempt${items.length === 1 ? '' : 's'}`),
    ` by ${fmtInt(agencies.size)} agenc${agencies.size === 1 ? 'y' : 'ies'}`,
    unidentified === 0 ? '' : ` and ${fmtInt(unidentified)} unidentified caller${unidentified === 1 ? '' : 's'}`,
    ': ',
    `${fmtInt(count(['ok']))} served, ${fmtInt(count(['denied', 'rejected']))} refused, `,
    `${fmtInt(count(['not_found']))} not found, ${fmtInt(count(['error']))} failed`,
    complete ? '' : ' (the first 10,000; narrow the window to see the rest)')
  const rows =
    items.length === 0
      ? el('p', { class: 'muted' }, 'No attempt on this subject within the window.')
      : table(
        [
          ['time (UTC)', (r) => fmtTime(r.time)],
          [
            'agency',
            (r) => r.client ?? (r.claimedClient ? `(unidentified; claimed ${r.claimedClient})` : '(unidentified)'),
          ],
          ['service · operation', (r) => `${r.service ?? '—'} · ${r.operation ?? '—'}`],
          ['purpose', (r) => r.purpose ?? '—'],
          ['fields', (r) => (r.fields === null || r.fields === undefined ? '—' : r.fields.join(', '))],
          ['outcome', (r) => badge(r.outcome)],
          ['status · code', (r) => `${r.status}${r.code ? ` · ${r.code}` : ''}`],
          [
            'on behalf of',
            (r) =>
              r.onBehalfOf
                ? el('span', { class: 'mono', title: 'pseudonym' }, `${r.onBehalfOf.slice(0, 10)}…`)
                : '—',
          ],
        ],
        items,
        showRecord
      )
  replace('person-result', summary, rows)
}
