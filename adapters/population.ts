/**
 * The national population database (CONTRACT §5, §9): REST/JSON, `GET /api/v1/cong-dan/{soDinhDanh}`.
 * Two operations read one record: `citizen` discloses granted fields, `verify` only booleans.
 */
import { problem } from '../core/errors.js'
import type { OperationSpec } from '../core/config-types.js'
import type {
  Answer,
  CanonicalRecord,
  CodedAdapterDefinition,
  JsonSchema,
  OperationInput,
  OperationShape,
  RecordKey,
  RecordSet,
} from './contract.js'
import { dmyToIso, mapValue, pointerGet } from './mapping.js'
import { canonicalSchema, fieldNames } from './schemas.js'
import { RegistryAdapter, subjectKey } from './registry-adapter.js'
import { parseJsonReply, unexpectedStatus } from './upstream.js'
import { sameClaim } from './verify.js'

const citizenSchema = canonicalSchema('population-citizen')
const citizenFields = fieldNames(citizenSchema)
const claimProperties = citizenSchema.properties as Record<string, JsonSchema>

const GENDER = { Nam: 'male', Nữ: 'female' } as const
const MARITAL = { 'Độc thân': 'single', 'Đã kết hôn': 'married', 'Ly hôn': 'divorced', Góa: 'widowed' } as const

const shapes: Record<string, OperationShape> = {
  citizen: { record: 'citizen', data: citizenSchema, fields: citizenFields, fieldsApplyTo: 'response' },
  verify: {
    record: 'citizen',
    data: canonicalSchema('population-verify'),
    fields: citizenFields,
    fieldsApplyTo: 'claims',
    // Claimed values are checked against the canonical types, so nonsense is refused, not answered `false`.
    body: { type: 'object', minProperties: 1, additionalProperties: false, properties: claimProperties },
  },
}

function personRef (value: unknown, field: string): { personalId: string | null, fullName: string | null } | null {
  if (value === null || value === undefined) return null
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw problem('upstream.bad_response', `The registry's reply has an unusable value for ${field}`)
  }
  const ref = value as Record<string, unknown>
  const str = (v: unknown): string | null => typeof v === 'string' ? v : null
  return { personalId: str(ref.soDinhDanh), fullName: str(ref.hoVaTen) }
}

/** Native population record → canonical citizen. */
export function mapCitizen (native: unknown): CanonicalRecord {
  if (native === null || typeof native !== 'object' || Array.isArray(native)) {
    throw problem('upstream.bad_response', 'The registry did not answer with a record')
  }
  const n = native as Record<string, unknown>
  const text = (name: string, field: string): string | null => {
    const v = n[name]
    if (v === null || v === undefined) return null
    if (typeof v !== 'string') {
      throw problem('upstream.bad_response', `The registry's reply has an unusable value for ${field}`)
    }
    return v
  }
  if (typeof n.soDinhDanh !== 'string' || !/^[0-9]{12}$/.test(n.soDinhDanh)) {
    throw problem('upstream.bad_response', "The registry's reply has no valid personal id")
  }
  return {
    personalId: n.soDinhDanh,
    fullName: text('hoVaTen', 'fullName'),
    otherName: text('tenGoiKhac', 'otherName'),
    dateOfBirth: dmyToIso(pointerGet(n, '/ngaySinh'), 'dateOfBirth'),
    gender: mapValue(n.gioiTinh, GENDER, 'gender'),
    birthRegistrationPlace: text('noiDangKyKhaiSinh', 'birthRegistrationPlace'),
    placeOfOrigin: text('queQuan', 'placeOfOrigin'),
    ethnicity: text('danToc', 'ethnicity'),
    religion: text('tonGiao', 'religion'),
    nationality: text('quocTich', 'nationality'),
    bloodType: text('nhomMau', 'bloodType'),
    permanentAddress: text('noiThuongTru', 'permanentAddress'),
    temporaryAddress: text('noiTamTru', 'temporaryAddress'),
    currentAddress: text('noiOHienTai', 'currentAddress'),
    householdHead: personRef(n.chuHo, 'householdHead'),
    relationToHouseholdHead: text('quanHeVoiChuHo', 'relationToHouseholdHead'),
    father: personRef(n.cha, 'father'),
    mother: personRef(n.me, 'mother'),
    spouse: personRef(n.voChong, 'spouse'),
    maritalStatus: mapValue(n.tinhTrangHonNhan, MARITAL, 'maritalStatus'),
    phone: text('soDienThoai', 'phone'),
    email: text('email', 'email'),
    dateOfDeath: dmyToIso(n.ngayMat, 'dateOfDeath'),
  }
}

class PopulationAdapter extends RegistryAdapter {
  protected key (_op: OperationSpec, input: OperationInput): RecordKey {
    return subjectKey(this.service, 'citizen', input.subject)
  }

  async load (key: RecordKey, signal?: AbortSignal): Promise<CanonicalRecord | null> {
    const res = await this.upstream.request({
      method: 'GET',
      path: `/api/v1/cong-dan/${encodeURIComponent(key.subject)}`,
      headers: { accept: 'application/json' },
      ...(signal === undefined ? {} : { signal }),
    })
    if (res.status === 404) {
      // Only the registry's own "not found" means no such citizen; any other 404 is a misrouted call.
      const body = parseJsonReply(res) as { maLoi?: unknown } | null
      if (body?.maLoi === 'KHONG_TIM_THAY') return null
      throw unexpectedStatus(404)
    }
    if (res.status !== 200) throw unexpectedStatus(res.status)
    const record = mapCitizen(parseJsonReply(res))
    if (record.personalId !== key.subject) {
      throw problem('upstream.bad_response', 'The registry answered about another person')
    }
    return record
  }

  override answer (op: OperationSpec, input: OperationInput, records: RecordSet): Answer {
    const citizen = records.get(this.key(op, input)) ?? null
    if (citizen === null || op.id !== 'verify') return { data: citizen }
    const claims = input.body as Record<string, unknown>
    const fields: Record<string, boolean> = {}
    for (const [name, claimed] of Object.entries(claims)) fields[name] = sameClaim(claimed, citizen[name])
    return { data: { personalId: input.subject, match: Object.values(fields).every(Boolean), fields } }
  }
}

export const population: CodedAdapterDefinition = {
  name: 'population',
  operations: shapes,
  create: (spec, deps) => new PopulationAdapter(spec, deps),
}
