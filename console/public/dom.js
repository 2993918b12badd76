// Building the page from data without ever parsing data as HTML.
export function el (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') node.className = v
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v)
    else if (k === 'style') Object.assign(node.style, v) // CSSOM: allowed by the CSP, unlike style=""
    else node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : String(c))
  }
  return node
}

export const fmtInt = (n) => Number(n ?? 0).toLocaleString('en-US')
export const fmtTime = (iso) => iso ? iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z') : '—'

export function badge (outcome) {
  return el('span', { class: `badge ${outcome}` }, outcome)
}

/** A table: columns are [heading, (row) => cell]; `onclick(row)` makes rows clickable. */
export function table (columns, rows, onclick) {
  return el('table', {},
    el('thead', {}, el('tr', {}, columns.map(([h]) => el('th', {}, h)))),
    el('tbody', {}, rows.map((r) => el('tr', onclick ? { class: 'click', onclick: () => onclick(r) } : {},
      columns.map(([, f]) => el('td', {}, f(r)))))))
}

/** Rows of [label, count] with a proportional bar. */
export function ranking (rows, empty = 'Nothing in this window') {
  if (rows.length === 0) return el('p', { class: 'muted' }, empty)
  const max = Math.max(...rows.map((r) => r[1]))
  const bar = (n) => el('div', { class: 'bar', style: { width: `${Math.max(2, Math.round(100 * n / max))}px` } })
  return table([['', (r) => r[0] ?? '(none)'], ['count', (r) => fmtInt(r[1])], ['', (r) => bar(r[1])]], rows)
}

export function replace (id, ...children) {
  const node = document.getElementById(id)
  node.replaceChildren(...children)
  return node
}
