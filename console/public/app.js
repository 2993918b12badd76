// The console page: a window of time, four views, and errors said in words (never a blank page).
import { api, ApiError } from './api.js'
import { renderOverview } from './overview.js'
import { renderPerson } from './person.js'
import { renderTransactions, showRecord, wireTransactions } from './transactions.js'
import { renderIntegrity } from './integrity.js'

const banner = document.getElementById('banner')
const state = { tab: 'overview', from: null, to: null, preset: '24', split: 'outcome', bucket: 'auto', subject: '' }
const rendered = new Set()

function showError (err) {
  banner.textContent = err instanceof ApiError
    ? err.message
    : `Something went wrong in the console: ${err?.message ?? err}`
  banner.hidden = false
}

/** Runs a view's work; any failure becomes the banner. */
async function guard (work) {
  try {
    await work()
  } catch (err) {
    showError(err)
  }
}

window.addEventListener('error', (e) => showError(e.error ?? e.message))
window.addEventListener('unhandledrejection', (e) => showError(e.reason))

const toInput = (iso) => iso.slice(0, 19)
const fromInput = (v) => new Date(`${v}Z`).toISOString()

function windowNow () {
  if (state.preset !== 'custom' || state.from === null || state.to === null) {
    const to = new Date()
    const from = new Date(to.getTime() - Number(state.preset === 'custom' ? 24 : state.preset) * 3_600_000)
    state.from = from.toISOString()
    state.to = to.toISOString()
  }
  const form = document.getElementById('window')
  form.elements.preset.value = state.preset
  form.elements.from.value = toInput(state.from)
  form.elements.to.value = toInput(state.to)
  return { from: state.from, to: state.to }
}

function saveHash () {
  const h = new URLSearchParams({ tab: state.tab, split: state.split, bucket: state.bucket })
  if (state.preset === 'custom') { h.set('from', state.from); h.set('to', state.to) } else h.set('preset', state.preset)
  if (state.subject) h.set('subject', state.subject)
  history.replaceState(null, '', `#${h}`)
}

function readHash () {
  const h = new URLSearchParams(location.hash.slice(1))
  for (const k of ['tab', 'split', 'bucket', 'subject', 'preset']) if (h.get(k)) state[k] = h.get(k)
  const valid = (k) => h.get(k) && !Number.isNaN(Date.parse(h.get(k)))
  if (valid('from') && valid('to')) {
    state.preset = 'custom'
    state.from = new Date(h.get('from')).toISOString()
    state.to = new Date(h.get('to')).toISOString()
  }
  document.getElementById('split').value = state.split
  document.getElementById('bucket').value = state.bucket
  document.querySelector('#person-form [name=subject]').value = state.subject
}

async function render (tab = state.tab) {
  banner.hidden = true
  const w = windowNow()
  saveHash()
  rendered.add(tab)
  document.body.dataset.loading = tab
  await guard(async () => {
    if (tab === 'overview') await renderOverview(w, state)
    else if (tab === 'person' && state.subject) await renderPerson(w, state.subject, (r) => guard(() => showRecord(r)))
    else if (tab === 'transactions') await renderTransactions(w)
    else if (tab === 'integrity') await renderIntegrity(w)
  })
  delete document.body.dataset.loading
  document.body.dataset.ready = [...rendered].join(' ')
}

function selectTab (tab) {
  state.tab = tab
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.tab === tab)
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== tab
  return render(tab)
}

/** Which view this agency gets: auditors see every record; others only their own (as the API decides). */
async function probeRole (session) {
  const note = document.getElementById('role')
  try {
    const now = Date.now()
    await api('/v1/audit/checkpoints', { from: new Date(now - 60_000).toISOString(), to: new Date(now).toISOString() })
  } catch (err) {
    if (err instanceof ApiError && err.code === 'access.role') {
      note.textContent = `${session.agency} does not hold the auditor role: the gateway shows it only its own records.`
      note.hidden = false
      return
    }
    throw err
  }
}

document.getElementById('window').addEventListener('submit', (e) => {
  e.preventDefault()
  const f = e.target.elements
  state.preset = f.preset.value
  if (state.preset === 'custom') { state.from = fromInput(f.from.value); state.to = fromInput(f.to.value) }
  rendered.clear()
  render()
})
document.getElementById('window').elements.preset.addEventListener('change', (e) => {
  if (e.target.value !== 'custom') { state.preset = e.target.value; rendered.clear(); render() }
})
for (const id of ['split', 'bucket']) {
  document.getElementById(id).addEventListener('change', (e) => { state[id] = e.target.value; render('overview') })
}
for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => selectTab(b.dataset.tab))
document.getElementById('person-form').addEventListener('submit', (e) => {
  e.preventDefault()
  state.subject = e.target.elements.subject.value.trim()
  render('person')
})
document.getElementById('filters').addEventListener('submit', (e) => { e.preventDefault(); render('transactions') })
document.getElementById('check').addEventListener('click', () => render('integrity'))
wireTransactions(guard)

readHash()
guard(async () => {
  const session = await api('/session')
  await probeRole(session)
}).then(() => selectTab(state.tab))
