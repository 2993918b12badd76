/**
 * The synthetic registry data the simulators serve (`simulators/data/*.ndjson.gz`, native field names),
 * read once per process and indexed the way each registry looks records up.
 */
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { projectPath } from '../core/paths.js'

export type NativeRecord = Record<string, unknown>

function readNdjson (name: string): NativeRecord[] {
  const text = gunzipSync(readFileSync(projectPath('simulators', 'data', `${name}.ndjson.gz`))).toString('utf8')
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as NativeRecord)
}

export interface RegistryData {
  /** soDinhDanh → citizen */
  readonly citizens: ReadonlyMap<string, NativeRecord>
  /** soDinhDanh → every civil-status event naming that person, in registry order */
  readonly eventsByPerson: ReadonlyMap<string, readonly NativeRecord[]>
  /** maSoDoanhNghiep → enterprise */
  readonly enterprises: ReadonlyMap<string, NativeRecord>
}

let cached: RegistryData | undefined

export function registryData (): RegistryData {
  if (cached !== undefined) return cached
  const citizens = new Map(readNdjson('population').map((r) => [r.soDinhDanh as string, r]))
  const eventsByPerson = new Map<string, NativeRecord[]>()
  for (const event of readNdjson('civil-status')) {
    for (const party of event.benLienQuan as Array<{ soDinhDanh: string }>) {
      const list = eventsByPerson.get(party.soDinhDanh) ?? []
      if (!list.includes(event)) list.push(event)
      eventsByPerson.set(party.soDinhDanh, list)
    }
  }
  const enterprises = new Map(readNdjson('business-registry').map((r) => [r.maSoDoanhNghiep as string, r]))
  cached = { citizens, eventsByPerson, enterprises }
  return cached
}
