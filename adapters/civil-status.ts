/**
 * The civil-status registry (CONTRACT §5, §9): SOAP 1.1 at `POST /ws/hotich`, operation `TraCuuSuKien`.
 * `events` lists a person's registrations; `marital-status` is derived from them (and, for a widow or
 * widower, from the spouse's death registration, which sits among the spouse's events).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { problem } from '../core/errors.js'
import type { OperationSpec } from '../core/config-types.js'
import type {
  Answer,
  CanonicalRecord,
  CodedAdapterDefinition,
  OperationInput,
  OperationShape,
  RecordKey,
  RecordSet,
} from './contract.js'
import { dmyToIso, mapValue } from './mapping.js'
import { canonicalSchema, fieldNames } from './schemas.js'
import { RegistryAdapter, subjectKey } from './registry-adapter.js'
import { RegistryReplyError, unexpectedStatus } from './upstream.js'

const NS = 'urn:hotich:v1'
const SOAP_ACTION = '"urn:hotich:v1#TraCuuSuKien"'

const EVENT_TYPE = { KHAI_SINH: 'birth', KET_HON: 'marriage', LY_HON: 'divorce', KHAI_TU: 'death' } as const
const ROLE = { BAN_THAN: 'self', CHA: 'father', ME: 'mother', CHONG: 'husband', VO: 'wife' } as const

const eventsSchema = canonicalSchema('civil-status-events')
const maritalSchema = canonicalSchema('civil-status-marital-status')
const shapes: Record<string, OperationShape> = {
  events: { record: 'events', data: eventsSchema, fields: fieldNames(eventsSchema), fieldsApplyTo: 'response' },
  'marital-status': {
    record: 'events',
    data: maritalSchema,
    fields: fieldNames(maritalSchema),
    fieldsApplyTo: 'response',
  },
}

export interface Party { role: string, personalId: string | null, fullName: string | null }
export interface CivilEvent {
  type: string
  registrationNo: string
  registeredOn: string | null
  authority: string | null
  parties: Party[]
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false, // personal ids keep their leading zeros
  trimValues: true,
  processEntities: true,
  isArray: (name) => name === 'suKien' || name === 'benLienQuan',
})

function xmlEscape (s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
}

export function requestEnvelope (personalId: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ht="' +
    NS +
    '">' +
    '<soap:Body><ht:TraCuuSuKien>' +
    `<ht:soDinhDanh>${xmlEscape(personalId)}</ht:soDinhDanh>` +
    '</ht:TraCuuSuKien></soap:Body>' +
    '</soap:Envelope>'
  )
}

const text = (v: unknown): string | null => typeof v === 'string' && v !== '' ? v : null

function mapEvent (native: unknown): CivilEvent {
  const e = (native ?? {}) as Record<string, unknown>
  const parties = Array.isArray(e.benLienQuan) ? e.benLienQuan : []
  const registrationNo = text(e.soDangKy)
  if (registrationNo === null) {
    throw problem('upstream.bad_response', 'The registry sent an event without a registration number')
  }
  return {
    type: mapValue(e.loai, EVENT_TYPE, 'events.type') as string,
    registrationNo,
    registeredOn: dmyToIso(text(e.ngayDangKy), 'events.registeredOn'),
    authority: text(e.coQuanDangKy),
    parties: parties.map((p: unknown) => {
      const party = (p ?? {}) as Record<string, unknown>
      return {
        role: mapValue(party.vaiTro, ROLE, 'events.parties.role') as string,
        personalId: text(party.soDinhDanh),
        fullName: text(party.hoVaTen),
      }
    }),
  }
}

/** Parses the SOAP reply: the events, null for the registry's "not found" fault, or an upstream error. */
export function parseReply (status: number, contentType: string, xml: string): CivilEvent[] | null {
  if (!/^(text\/xml|application\/soap\+xml)\b/i.test(contentType)) {
    // A fault travels as a 500 with XML; a 500 that is not XML (a server's error page) is the registry
    // failing, like any other 5xx.
    if (status !== 200) throw unexpectedStatus(status)
    throw problem('upstream.bad_response', 'The registry did not answer with XML')
  }
  if (XMLValidator.validate(xml) !== true) {
    throw problem('upstream.bad_response', 'The registry answered with malformed XML')
  }
  const doc = parser.parse(xml) as { Envelope?: { Body?: Record<string, unknown> } }
  const body = doc.Envelope?.Body
  if (body === undefined || body === null || typeof body !== 'object') {
    throw problem('upstream.bad_response', 'The registry answered without a SOAP body')
  }
  if (body.Fault !== undefined) {
    const fault = body.Fault as { faultcode?: unknown }
    const code = typeof fault.faultcode === 'string' ? fault.faultcode.replace(/^.*:/, '') : ''
    if (code === 'KHONG_TIM_THAY') return null
    // The fault code and text are the registry's bytes: the log gets status, size and hash only.
    const cause = new RegistryReplyError('is a SOAP fault', status, xml)
    if (code.startsWith('Server')) throw problem('upstream.unavailable', 'The registry cannot serve now', { cause })
    throw problem('upstream.bad_response', 'The registry refused the request', { cause })
  }
  if (status !== 200) throw unexpectedStatus(status)
  const response = body.TraCuuSuKienResponse
  if (response === undefined) throw problem('upstream.bad_response', 'The registry answered another operation')
  const events = response === '' || response === null ? [] : (response as { suKien?: unknown[] }).suKien ?? []
  return events.map(mapEvent)
}

/** Oldest first; registrations on the same day keep the registry's order. */
export function sortEvents (events: CivilEvent[]): CivilEvent[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.registeredOn ?? '').localeCompare(b.e.registeredOn ?? '') || a.i - b.i)
    .map(({ e }) => e)
}

const isParty = (e: CivilEvent, id: string, roles: string[]): boolean =>
  e.parties.some((p) => p.personalId === id && roles.includes(p.role))

/** The latest marriage or divorce of a person: the event their marital status follows. */
function decidingEvent (personalId: string, events: CivilEvent[]): CivilEvent | undefined {
  const decisive = events.filter((e) => (e.type === 'marriage' || e.type === 'divorce') &&
    isParty(e, personalId, ['husband', 'wife']))
  return decisive[decisive.length - 1]
}

/** The other party of a marriage, if the registry names them. */
function spouseIn (marriage: CivilEvent, personalId: string): Party | undefined {
  return marriage.parties.find((p) => p.personalId !== personalId && (p.role === 'husband' || p.role === 'wife'))
}

/** Whose events a person's marital status also depends on: the spouse of a standing marriage, if any. */
export function spouseToRead (personalId: string, events: CivilEvent[]): string | null {
  const last = decidingEvent(personalId, events)
  if (last?.type !== 'marriage') return null
  return spouseIn(last, personalId)?.personalId ?? null
}

/**
 * The deciding event is the person's latest marriage or divorce. A marriage whose spouse has a death
 * registration (among `spouseEvents`, the spouse's own events) makes the person widowed since then.
 */
export function deriveMaritalStatus (
  personalId: string, events: CivilEvent[], spouseEvents: CivilEvent[] | null
): CanonicalRecord {
  const last = decidingEvent(personalId, events)
  if (last === undefined) return { personalId, maritalStatus: 'single', since: null, spouse: null }
  if (last.type === 'divorce') return { personalId, maritalStatus: 'divorced', since: last.registeredOn, spouse: null }
  const other = spouseIn(last, personalId)
  if (other?.personalId != null) {
    const death = spouseEvents?.find((e) => e.type === 'death' && isParty(e, other.personalId as string, ['self']))
    if (death !== undefined) return { personalId, maritalStatus: 'widowed', since: death.registeredOn, spouse: null }
  }
  return {
    personalId,
    maritalStatus: 'married',
    since: last.registeredOn,
    spouse: other === undefined ? null : { personalId: other.personalId, fullName: other.fullName },
  }
}

class CivilStatusAdapter extends RegistryAdapter {
  protected key (_op: OperationSpec, input: OperationInput): RecordKey {
    return subjectKey(this.service, 'events', input.subject)
  }

  async load (key: RecordKey, signal?: AbortSignal): Promise<CanonicalRecord | null> {
    const res = await this.upstream.request({
      method: 'POST',
      path: '/ws/hotich',
      headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: SOAP_ACTION, accept: 'text/xml' },
      body: requestEnvelope(key.subject),
      ...(signal === undefined ? {} : { signal }),
    })
    const events = parseReply(res.status, res.contentType, res.body.toString('utf8'))
    if (events === null) return null
    return { personalId: key.subject, events: sortEvents(events) }
  }

  /** `marital-status` reads the spouse's events too, when a standing marriage names a spouse. */
  override answer (op: OperationSpec, input: OperationInput, records: RecordSet): Answer {
    const own = records.get(this.key(op, input)) ?? null
    if (own === null || op.id === 'events') return { data: own }
    const events = own.events as CivilEvent[]
    const spouse = spouseToRead(input.subject, events)
    const spouseKey = spouse === null ? null : subjectKey(this.service, 'events', spouse)
    const spouseRecord = spouseKey === null ? null : records.get(spouseKey)
    if (spouseKey !== null && spouseRecord === undefined) return { needs: [spouseKey] }
    const spouseEvents = spouseRecord == null ? null : spouseRecord.events as CivilEvent[]
    return { data: deriveMaritalStatus(input.subject, events, spouseEvents) }
  }
}

export const civilStatus: CodedAdapterDefinition = {
  name: 'civil-status',
  operations: shapes,
  create: (spec, deps) => new CivilStatusAdapter(spec, deps),
}
