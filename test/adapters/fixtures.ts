/**
 * For the adapter conformance suite: a registry on port 0 that answers as each case needs, and one fixture
 * per adapter saying how its registry answers natively ("here is the record", "no such record").
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Test } from 'tap'
import type { OperationSpec, ServiceSpec } from '../../core/config-types.js'
import type { RecordKey } from '../../adapters/contract.js'

export interface NativeReply { readonly status: number, readonly type: string, readonly body: string }

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

export interface Registry {
  readonly url: string
  /** How requests are answered from now on. */
  handle: Handler
  /** Requests received. */
  readonly requests: number
  /** Requests whose connection closed before they were answered (the caller gave up). */
  readonly dropped: number
  /** Connections open now, as the server sees them. */
  readonly open: number
  /** Connections ever accepted. */
  readonly connections: number
}

/** Sends a reply, with a Content-Length or (`chunked`) streamed in 1 KB chunks without one. */
export function send (
  res: ServerResponse, reply: NativeReply, opts: { chunked?: boolean, headers?: Record<string, string> } = {}
): void {
  const bytes = Buffer.from(reply.body)
  if (opts.chunked !== true) {
    res.writeHead(reply.status, { 'content-type': reply.type, 'content-length': bytes.length, ...opts.headers })
    res.end(bytes)
    return
  }
  res.writeHead(reply.status, { 'content-type': reply.type, ...opts.headers })
  for (let i = 0; i < bytes.length; i += 1024) res.write(bytes.subarray(i, i + 1024))
  res.end()
}

export async function startRegistry (t: Test): Promise<Registry> {
  const sockets = new Set<Socket>()
  const state = { requests: 0, dropped: 0, connections: 0 }
  const server = createServer((req, res) => {
    state.requests++
    res.on('close', () => { if (!res.writableEnded) state.dropped++ })
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => registry.handle(req, res, Buffer.concat(chunks).toString('utf8')))
  })
  // Idle connections stay open well past any case, so only the client closing them can close them.
  server.keepAliveTimeout = 60_000
  server.on('connection', (s: Socket) => {
    state.connections++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const registry: Registry = {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    handle: (_req, res) => { res.writeHead(500).end() },
    get requests () { return state.requests },
    get dropped () { return state.dropped },
    get open () { return sockets.size },
    get connections () { return state.connections },
  }
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return registry
}

export interface AdapterFixture {
  readonly name: string
  /** The service's spec, as the config loader would make it, calling `baseUrl`. */
  spec (baseUrl: string, timeoutMs: number): ServiceSpec
  /** The record every case asks for. */
  readonly key: RecordKey
  /** Whether a request is the registry call `load(key)` should make (method, route, subject). */
  isLookup (req: IncomingMessage, body: string): boolean
  /** The registry's own answer: the record (with `pad` bytes its mapping ignores), or its "no such record". */
  native (found: boolean, pad?: number): NativeReply
  /** Some of what the canonical record holds. */
  readonly record: Record<string, unknown>
}

const JSON_TYPE = 'application/json; charset=utf-8'

function coded (service: string, adapter: string, baseUrl: string, timeoutMs: number): ServiceSpec {
  return {
    service,
    title: service,
    personalData: true,
    adapter,
    upstream: { baseUrl, timeoutMs, connections: 2, headers: { 'x-api-key': 'conformance' } },
    operations: {},
    file: `adapters/${service}.yaml`,
  }
}

export const population: AdapterFixture = {
  name: 'population (coded, REST/JSON)',
  spec: (baseUrl, timeoutMs) => coded('population', 'population', baseUrl, timeoutMs),
  key: { service: 'population', kind: 'citizen', subject: '030075654294', params: {} },
  isLookup: (req) => req.method === 'GET' && req.url === '/api/v1/cong-dan/030075654294',
  native: (found, pad = 0) => found
    ? {
        status: 200,
        type: JSON_TYPE,
        body: JSON.stringify({
          soDinhDanh: '030075654294',
          hoVaTen: 'Dương Đức Việt',
          ngaySinh: '20/09/1975',
          gioiTinh: 'Nam',
          ghiChu: 'x'.repeat(pad),
        }),
      }
    : { status: 404, type: JSON_TYPE, body: JSON.stringify({ maLoi: 'KHONG_TIM_THAY', thongBao: 'Không tìm thấy' }) },
  record: { personalId: '030075654294', fullName: 'Dương Đức Việt', dateOfBirth: '1975-09-20', gender: 'male' },
}

const SOAP = 'http://schemas.xmlsoap.org/soap/envelope/'
const envelope = (body: string, pad: number): string => '<?xml version="1.0" encoding="utf-8"?>' +
  `<soap:Envelope xmlns:soap="${SOAP}"><soap:Body>${body}</soap:Body></soap:Envelope><!-- ${'x'.repeat(pad)} -->`

export const civilStatus: AdapterFixture = {
  name: 'civil-status (coded, SOAP 1.1)',
  spec: (baseUrl, timeoutMs) => coded('civil-status', 'civil-status', baseUrl, timeoutMs),
  key: { service: 'civil-status', kind: 'events', subject: '030075654294', params: {} },
  isLookup: (req, body) => req.method === 'POST' && req.url === '/ws/hotich' &&
    req.headers.soapaction === '"urn:hotich:v1#TraCuuSuKien"' && body.includes('>030075654294</'),
  native: (found, pad = 0) => found
    ? {
        status: 200,
        type: 'text/xml; charset=utf-8',
        body: envelope('<TraCuuSuKienResponse xmlns="urn:hotich:v1"><suKien><loai>KHAI_SINH</loai>' +
          '<soDangKy>1/1975/KS</soDangKy><ngayDangKy>20/09/1975</ngayDangKy><coQuanDangKy>UBND</coQuanDangKy>' +
          '<benLienQuan><vaiTro>BAN_THAN</vaiTro><soDinhDanh>030075654294</soDinhDanh>' +
          '<hoVaTen>Dương Đức Việt</hoVaTen></benLienQuan></suKien></TraCuuSuKienResponse>', pad),
      }
    // SOAP 1.1 faults travel as HTTP 500.
    : {
        status: 500,
        type: 'text/xml; charset=utf-8',
        body: envelope('<soap:Fault><faultcode>KHONG_TIM_THAY</faultcode>' +
          '<faultstring>Không tìm thấy</faultstring></soap:Fault>', 0),
      },
  record: {
    personalId: '030075654294',
    events: [{ type: 'birth', registrationNo: '1/1975/KS', registeredOn: '1975-09-20', parties: [{ role: 'self' }] }],
  },
}

export const businessRegistry: AdapterFixture = {
  name: 'business-registry (coded, search API)',
  spec: (baseUrl, timeoutMs) => coded('business-registry', 'business-registry', baseUrl, timeoutMs),
  key: { service: 'business-registry', kind: 'enterprise', subject: '2627349851', params: {} },
  isLookup: (req) => req.method === 'GET' && req.url === '/api/doanh-nghiep?maSo=2627349851',
  native: (found, pad = 0) => ({
    status: 200,
    type: JSON_TYPE,
    // The search answers 200 either way; no such enterprise is an empty result.
    body: JSON.stringify(found
      ? {
          tongSo: 1,
          ketQua: [{
            maSoDoanhNghiep: '2627349851',
            tenDoanhNghiep: 'Công ty TNHH Sen Vàng',
            tinhTrang: 'Đang hoạt động',
            ghiChu: 'x'.repeat(pad),
          }],
        }
      : { tongSo: 0, ketQua: [] }),
  }),
  record: { enterpriseCode: '2627349851', name: 'Công ty TNHH Sen Vàng', status: 'active' },
}

const parcel: OperationSpec = {
  id: 'parcel',
  service: 'land-registry',
  method: 'GET',
  path: '/parcels/{parcelId}',
  route: '/v1/land-registry/parcels/{parcelId}',
  params: { parcelId: { type: 'string', pattern: '^[0-9]{10}$', in: 'path', required: true } },
  subject: 'parcelId',
  request: { method: 'GET', path: '/api/thua-dat/{parcelId}', query: {}, recordPointer: '' },
  notFound: [404],
  response: { parcelId: { from: '/maThua', type: 'string' }, areaM2: { from: '/dienTich', type: 'number' } },
  cache: { ttlSeconds: 0 },
}

export const declarative: AdapterFixture = {
  name: 'land-registry (declarative HTTP)',
  spec: (baseUrl, timeoutMs) => ({
    ...coded('land-registry', 'x', baseUrl, timeoutMs),
    adapter: null,
    operations: { parcel },
  }),
  key: { service: 'land-registry', kind: 'parcel', subject: '0101000001', params: { parcelId: '0101000001' } },
  isLookup: (req) => req.method === 'GET' && req.url === '/api/thua-dat/0101000001',
  native: (found, pad = 0) => found
    ? {
        status: 200,
        type: JSON_TYPE,
        body: JSON.stringify({ maThua: '0101000001', dienTich: '152.5', ghiChu: 'x'.repeat(pad) }),
      }
    : { status: 404, type: JSON_TYPE, body: JSON.stringify({ loi: 'khong tim thay' }) },
  record: { parcelId: '0101000001', areaM2: 152.5 },
}

export const FIXTURES: readonly AdapterFixture[] = [population, civilStatus, businessRegistry, declarative]
