/**
 * Business registry simulator (CONTRACT §9), port 4103:
 * `GET /api/doanh-nghiep?maSo=<code>` with `Authorization: Bearer <key>` → `{ tongSo, ketQua }`.
 */
import { countLookup, createSimulator, type Simulator, type SimulatorSettings } from './behaviour.js'
import { registryData } from './data.js'

export function businessRegistrySimulator (settings: SimulatorSettings): Simulator {
  const { enterprises } = registryData()
  return createSimulator('business-registry', settings, (app, sim) => {
    app.get<{ Querystring: { maSo?: string | string[] } }>('/api/doanh-nghiep', async (req, reply) => {
      if (req.headers.authorization !== `Bearer ${sim.settings.apiKey}`) {
        return reply.code(401).header('www-authenticate', 'Bearer realm="dkkd"').send({ loi: 'Chưa xác thực' })
      }
      const code = req.query.maSo
      if (typeof code !== 'string' || code === '') return reply.code(400).send({ loi: 'Thiếu tham số maSo' })
      countLookup(sim, code)
      const found = enterprises.get(code)
      return { tongSo: found === undefined ? 0 : 1, ketQua: found === undefined ? [] : [found] }
    })
    app.setNotFoundHandler((_req, reply) => reply.code(404).send({ loi: 'Không tìm thấy đường dẫn' }))
  })
}
