/**
 * The national business registration database (CONTRACT §5, §9): `GET /api/doanh-nghiep?maSo=<code>`,
 * answering `{ tongSo, ketQua: [...] }` (tongSo 0 when unknown).
 */
import { problem } from '../core/errors.js'
import type { OperationSpec } from '../core/config-types.js'
import type { CanonicalRecord, CodedAdapterDefinition, OperationInput, OperationShape, RecordKey } from './contract.js'
import { dmyToIso, mapValue } from './mapping.js'
import { canonicalSchema, fieldNames } from './schemas.js'
import { RegistryAdapter, subjectKey } from './registry-adapter.js'
import { parseJsonReply, unexpectedStatus } from './upstream.js'

const STATUS = { 'Đang hoạt động': 'active', 'Tạm ngừng kinh doanh': 'suspended', 'Đã giải thể': 'dissolved' } as const

const enterpriseSchema = canonicalSchema('business-registry-enterprise')
const shapes: Record<string, OperationShape> = {
  enterprise: {
    record: 'enterprise',
    data: enterpriseSchema,
    fields: fieldNames(enterpriseSchema),
    fieldsApplyTo: 'response',
  },
}

const str = (v: unknown): string | null => typeof v === 'string' ? v : null
const list = (v: unknown, field: string): Array<Record<string, unknown>> => {
  if (v === null || v === undefined) return []
  if (!Array.isArray(v)) {
    throw problem('upstream.bad_response', `The registry's reply has an unusable value for ${field}`)
  }
  return v.map((x) => (x ?? {}) as Record<string, unknown>)
}

/** Native enterprise → canonical enterprise. */
export function mapEnterprise (native: Record<string, unknown>): CanonicalRecord {
  const capital = native.vonDieuLe
  if (capital !== null && capital !== undefined && (typeof capital !== 'number' || !Number.isFinite(capital))) {
    throw problem('upstream.bad_response', "The registry's reply has an unusable value for charterCapitalVnd")
  }
  return {
    enterpriseCode: native.maSoDoanhNghiep,
    name: str(native.tenDoanhNghiep),
    englishName: str(native.tenTiengAnh),
    shortName: str(native.tenVietTat),
    type: str(native.loaiHinh),
    status: mapValue(native.tinhTrang, STATUS, 'status'),
    foundedOn: dmyToIso(native.ngayThanhLap, 'foundedOn'),
    headOfficeAddress: str(native.diaChiTruSo),
    legalRepresentatives: list(native.nguoiDaiDien, 'legalRepresentatives')
      .map((r) => ({ fullName: str(r.hoVaTen), personalId: str(r.soDinhDanh), title: str(r.chucDanh) })),
    charterCapitalVnd: capital ?? null,
    businessLines: list(native.nganhNghe, 'businessLines')
      .map((l) => ({ code: str(l.ma), name: str(l.ten), main: typeof l.chinh === 'boolean' ? l.chinh : null })),
  }
}

class BusinessRegistryAdapter extends RegistryAdapter {
  protected key (_op: OperationSpec, input: OperationInput): RecordKey {
    return subjectKey(this.service, 'enterprise', input.subject)
  }

  async load (key: RecordKey, signal?: AbortSignal): Promise<CanonicalRecord | null> {
    const res = await this.upstream.request({
      method: 'GET',
      path: `/api/doanh-nghiep?maSo=${encodeURIComponent(key.subject)}`,
      headers: { accept: 'application/json' },
      ...(signal === undefined ? {} : { signal }),
    })
    if (res.status !== 200) throw unexpectedStatus(res.status)
    const reply = parseJsonReply(res) as { tongSo?: unknown, ketQua?: unknown } | null
    if (reply === null || typeof reply.tongSo !== 'number' || !Array.isArray(reply.ketQua)) {
      throw problem('upstream.bad_response', 'The registry answered in an unknown shape')
    }
    // A search may return neighbours; only the exact code is the record asked for.
    const native = (reply.ketQua as Array<Record<string, unknown> | null>).find(
      (r) => r?.maSoDoanhNghiep === key.subject
    )
    return native == null ? null : mapEnterprise(native)
  }
}

export const businessRegistry: CodedAdapterDefinition = {
  name: 'business-registry',
  operations: shapes,
  create: (spec, deps) => new BusinessRegistryAdapter(spec, deps),
}
