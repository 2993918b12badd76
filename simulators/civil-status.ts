/**
 * Civil-status registry simulator (CONTRACT §9), port 4102: SOAP 1.1, `POST /ws/hotich`,
 * `SOAPAction: "urn:hotich:v1#TraCuuSuKien"`, `X-Api-Key`. Faults travel as HTTP 500, as SOAP 1.1 has it.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { countLookup, createSimulator, type Simulator, type SimulatorSettings } from './behaviour.js'
import { registryData, type NativeRecord } from './data.js'

const NS = 'urn:hotich:v1'
const ACTION = 'urn:hotich:v1#TraCuuSuKien'
const SOAP_NS = 'http://schemas.xmlsoap.org/soap/envelope/'

const parser = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: true })

function esc (s: unknown): string {
  return String(s ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function envelope (body: string): string {
  return '<?xml version="1.0" encoding="utf-8"?>\n' +
    `<soap:Envelope xmlns:soap="${SOAP_NS}"><soap:Body>${body}</soap:Body></soap:Envelope>`
}

export function fault (code: string, message: string): string {
  return envelope(`<soap:Fault><faultcode>${esc(code)}</faultcode>` +
    `<faultstring xml:lang="vi">${esc(message)}</faultstring></soap:Fault>`)
}

function eventXml (e: NativeRecord): string {
  const parties = (e.benLienQuan as NativeRecord[])
    .map((p) => `<benLienQuan><vaiTro>${esc(p.vaiTro)}</vaiTro><soDinhDanh>${esc(p.soDinhDanh)}</soDinhDanh>` +
      `<hoVaTen>${esc(p.hoVaTen)}</hoVaTen></benLienQuan>`)
    .join('')
  return (
    `<suKien><loai>${esc(e.loai)}</loai><soDangKy>${esc(e.soDangKy)}</soDangKy>` +
    `<ngayDangKy>${esc(e.ngayDangKy)}</ngayDangKy>` +
    `<coQuanDangKy>${esc(e.coQuanDangKy)}</coQuanDangKy>${parties}</suKien>`
  )
}

const WSDL = `<?xml version="1.0" encoding="utf-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="${NS}" targetNamespace="${NS}" name="HoTich">
  <types><xs:schema targetNamespace="${NS}" elementFormDefault="qualified">
    <xs:element name="TraCuuSuKien"><xs:complexType><xs:sequence>
      <xs:element name="soDinhDanh" type="xs:string"/>
    </xs:sequence></xs:complexType></xs:element>
    <xs:element name="TraCuuSuKienResponse"><xs:complexType><xs:sequence>
      <xs:element name="suKien" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:sequence>
        <xs:element name="loai" type="xs:string"/><xs:element name="soDangKy" type="xs:string"/>
        <xs:element name="ngayDangKy" type="xs:string"/><xs:element name="coQuanDangKy" type="xs:string"/>
        <xs:element name="benLienQuan" maxOccurs="unbounded"><xs:complexType><xs:sequence>
          <xs:element name="vaiTro" type="xs:string"/><xs:element name="soDinhDanh" type="xs:string"/>
          <xs:element name="hoVaTen" type="xs:string"/>
        </xs:sequence></xs:complexType></xs:element>
      </xs:sequence></xs:complexType></xs:element>
    </xs:sequence></xs:complexType></xs:element>
  </xs:schema></types>
  <message name="TraCuuSuKienIn"><part name="parameters" element="tns:TraCuuSuKien"/></message>
  <message name="TraCuuSuKienOut"><part name="parameters" element="tns:TraCuuSuKienResponse"/></message>
  <portType name="HoTichPort"><operation name="TraCuuSuKien">
    <input message="tns:TraCuuSuKienIn"/><output message="tns:TraCuuSuKienOut"/>
  </operation></portType>
  <binding name="HoTichBinding" type="tns:HoTichPort"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="TraCuuSuKien"><soap:operation soapAction="${ACTION}"/>
      <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output>
    </operation>
  </binding>
  <service name="HoTichService"><port name="HoTichPort" binding="tns:HoTichBinding">
    <soap:address location="/ws/hotich"/>
  </port></service>
</definitions>
`

export function civilStatusSimulator (settings: SimulatorSettings): Simulator {
  const { eventsByPerson } = registryData()
  return createSimulator('civil-status', settings, (app, sim) => {
    app.addContentTypeParser(['text/xml', 'application/soap+xml'], { parseAs: 'string' }, (_req, body, done) =>
      done(null, body)
    )
    app.get('/ws/hotich', async (_req, reply) => reply.type('text/xml; charset=utf-8').send(WSDL))
    app.post<{ Body: string }>('/ws/hotich', async (req, reply) => {
      const xml = (status: number, body: string) => reply.code(status).type('text/xml; charset=utf-8').send(body)
      if (req.headers['x-api-key'] !== sim.settings.apiKey) {
        return reply
          .code(401)
          .header('www-authenticate', 'ApiKey')
          .type('text/plain; charset=utf-8')
          .send('Unauthorized')
      }
      const action = String(req.headers.soapaction ?? '').replace(/^"|"$/g, '')
      if (action !== ACTION) return xml(500, fault('soap:Client', `SOAPAction không được hỗ trợ: ${action}`))
      if (typeof req.body !== 'string' || XMLValidator.validate(req.body) !== true) {
        return xml(500, fault('soap:Client', 'Thông điệp XML không hợp lệ'))
      }
      const doc = parser.parse(req.body) as { Envelope?: { Body?: { TraCuuSuKien?: { soDinhDanh?: unknown } } } }
      const id = doc.Envelope?.Body?.TraCuuSuKien?.soDinhDanh
      if (typeof id !== 'string' || !/^[0-9]{12}$/.test(id)) {
        return xml(500, fault('soap:Client', 'soDinhDanh phải gồm 12 chữ số'))
      }
      countLookup(sim, id)
      const events = eventsByPerson.get(id)
      if (events === undefined) return xml(500, fault('KHONG_TIM_THAY', 'Không tìm thấy thông tin hộ tịch'))
      return xml(
        200,
        envelope(`<TraCuuSuKienResponse xmlns="${NS}">${events.map(eventXml).join('')}</TraCuuSuKienResponse>`)
      )
    })
    app.setNotFoundHandler((_req, reply) =>
      reply.code(404).type('text/html; charset=utf-8').send('<html><body>404 Not Found</body></html>')
    )
  })
}
