/**
 * A JSON registry that no adapter was written for — registered by a file alone — and that misbehaves on
 * request (by parcel id), for the declarative adapter and the upstream failure tests.
 */
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import { writeFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'

export const PARCEL = {
  maThua: '0101000001',
  dienTich: '152.5',
  ngayDangKy: '15/03/2010',
  mucDich: 'ODT',
  conHieuLuc: 'true',
  soTo: 12,
  chuSuDung: { hoVaTen: 'Dương Đức Việt', soDinhDanh: '030075654294' },
  lichSu: [{ nam: 2010 }, { nam: 2015 }],
}

export interface LandRegistry { server: Server, url: string, requests: number, close (): Promise<void> }

export async function startLandRegistry (apiKey = 'land-key'): Promise<LandRegistry> {
  const state = { requests: 0 }
  const server = createServer((req, res) => {
    state.requests++
    if (req.headers['x-api-key'] !== apiKey) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"loi":"key"}')
      return
    }
    const url = new URL(req.url ?? '/', 'http://x')
    const id = url.pathname.startsWith('/api/thua-dat/')
      ? url.pathname.slice('/api/thua-dat/'.length)
      : (url.searchParams.get('ma') ?? '')
    const send = (status: number, body: unknown, type = 'application/json; charset=utf-8') =>
      res.writeHead(status, { 'content-type': type }).end(typeof body === 'string' ? body : JSON.stringify(body))
    if (url.pathname === '/api/tim-kiem') {
      send(200, { tongSo: id === PARCEL.maThua ? 1 : 0, ketQua: id === PARCEL.maThua ? [PARCEL] : [] })
      return
    }
    switch (id) {
      case PARCEL.maThua: send(200, PARCEL); return
      case '0101000404': send(404, { loi: 'khong tim thay' }); return
      case '0101000500': send(500, { loi: 'loi may chu' }); return
      case '0101000503': send(503, '<html>down</html>', 'text/html'); return
      case '0101000401': send(401, { loi: 'het han' }); return
      case '0101000999': send(200, '<html><body>maintenance</body></html>', 'text/html'); return
      case '0101000998': send(200, '{"maThua": "0101000998", '); return
      case '0101000997': send(200, { ...PARCEL, maThua: id, ngayDangKy: '31/02/2010' }); return
      case '0101000996': send(200, { ...PARCEL, maThua: id, mucDich: 'XYZ' }); return
      case '0101000995': setTimeout(() => send(200, PARCEL), 1500); return
      case '0101000994': send(200, { ...PARCEL, pad: 'x'.repeat(5 * 1024 * 1024) }); return
      case '0101000993': res.socket?.destroy(); return
      case '0101000992': send(200, 'null'); return
      default: send(404, { loi: 'khong tim thay' })
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return {
    server,
    url,
    get requests () { return state.requests },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

export const LAND_ADAPTER = `# A registry added by configuration alone.
service: land-registry
title: National Land Registry
personalData: true
upstream:
  baseUrl: "\${LAND_URL}"
  timeoutMs: 400
  headers: { X-Api-Key: "\${LAND_API_KEY:-land-key}" }
operations:
  parcel:
    method: GET
    path: /parcels/{parcelId}
    params: { parcelId: { type: string, pattern: "^[0-9]{10}$" } }
    subject: parcelId
    request: { method: GET, path: "/api/thua-dat/{parcelId}" }   # quoted: braces inside a flow map
    notFound: [404]
    response:
      parcelId: /maThua
      areaM2: { from: /dienTich, type: number }
      registeredOn: { from: /ngayDangKy, type: date-dmy }
      landUse: { from: /mucDich, type: map, values: { ODT: urban-residential, LUC: rice } }
      active: { from: /conHieuLuc, type: boolean }
      mapSheet: /soTo
      owner: /chuSuDung
      ownerName: /chuSuDung/hoVaTen
      history: /lichSu
      surveyor: /nguoiDo
    cache: { ttlSeconds: 600 }
  parcel-search:
    method: GET
    path: /parcel-search/{parcelId}
    params: { parcelId: { type: string, pattern: "^[0-9]{10}$" } }
    subject: parcelId
    request: { path: /api/tim-kiem, query: { ma: "{parcelId}" }, recordPointer: /ketQua/0 }
    response: { parcelId: /maThua, areaM2: { from: /dienTich, type: number } }
`

/** Adds the land registry to a config copy and grants it to Da Nang. */
export async function addLandRegistry (dir: string): Promise<void> {
  await writeFile(join(dir, 'adapters', 'land-registry.yaml'), LAND_ADAPTER)
  const file = join(dir, 'agencies', 'VN.LOC.DNG.yaml')
  await writeFile(
    file,
    (await readFile(file, 'utf8')).replace(
      'grants:\n',
      'grants:\n  land-registry.parcel: { fields: "*", purposes: [public-service] }\n' +
        '  land-registry.parcel-search: { fields: "*", purposes: [public-service] }\n'
    )
  )
}
