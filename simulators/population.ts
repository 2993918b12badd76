/**
 * Population database simulator (CONTRACT §9), port 4101:
 * `GET /api/v1/cong-dan/{soDinhDanh}` with `X-Api-Key` → 200 native record | 404 KHONG_TIM_THAY | 401.
 */
import { countLookup, createSimulator, type Simulator, type SimulatorSettings } from './behaviour.js'
import { registryData } from './data.js'

export function populationSimulator (settings: SimulatorSettings): Simulator {
  const { citizens } = registryData()
  return createSimulator('population', settings, (app, sim) => {
    app.get<{ Params: { id: string } }>('/api/v1/cong-dan/:id', async (req, reply) => {
      if (req.headers['x-api-key'] !== sim.settings.apiKey) {
        return reply.code(401).send({ maLoi: 'KHONG_XAC_THUC', thongDiep: 'Thiếu hoặc sai khóa API' })
      }
      const id = req.params.id
      if (!/^[0-9]{12}$/.test(id)) {
        return reply.code(400).send({ maLoi: 'THAM_SO_KHONG_HOP_LE', thongDiep: 'Số định danh phải gồm 12 chữ số' })
      }
      countLookup(sim, id)
      const citizen = citizens.get(id)
      if (citizen === undefined) {
        return reply.code(404).send({ maLoi: 'KHONG_TIM_THAY', thongDiep: 'Không tìm thấy công dân' })
      }
      return citizen
    })
    app.setNotFoundHandler((_req, reply) =>
      reply.code(404).send({ maLoi: 'DUONG_DAN_KHONG_TON_TAI', thongDiep: 'Đường dẫn không tồn tại' })
    )
  })
}
