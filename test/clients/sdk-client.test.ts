/**
 * The TypeScript SDK's client against a real listening gateway: each convenience call signs a request the
 * gateway accepts and returns its status, body and transaction id; a refusal comes back as the problem.
 */
import t from 'tap'
import { NdxClient } from '../../sdk/index.js'
import { buildTestGateway, demoSigner } from '../helpers/gateway.js'

const PERSON = '030075654294'

t.test('every convenience call of NdxClient is accepted by the gateway', async (t) => {
  const { app } = await buildTestGateway(t)
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  const client = new NdxClient({ baseUrl: `${baseUrl}/`, signer: await demoSigner('VN.BHXH') })

  const citizen = await client.citizen(PERSON, { purpose: 'social-insurance', fields: ['fullName'] })
  t.equal(citizen.status, 200)
  t.same(Object.keys((citizen.body as { data: object }).data), ['fullName'], 'only the fields asked for')
  t.match(citizen.transactionId, /^[0-9a-f-]{36}$/)

  const events = await client.civilEvents(PERSON, { purpose: 'social-insurance' })
  const marital = await client.maritalStatus(PERSON, { purpose: 'social-insurance' })
  const enterprise = await client.enterprise('2627349851', { purpose: 'social-insurance' })
  const verify = await client.verifyCitizen(PERSON, { fullName: 'x' }, { purpose: 'social-insurance' })
  t.equal(events.status, 200, 'civil-status events')
  t.equal(marital.status, 403, 'marital status: not granted to this agency, refused as such')
  t.match(marital.body, { code: 'access.denied' })
  t.equal(enterprise.status, 200, 'an enterprise')
  t.match(verify.body, { data: { personalId: PERSON, match: false, fields: { fullName: false } } }, 'a verification')

  const refused = await client.citizen(PERSON, { purpose: 'tax-assessment' })
  t.equal(refused.status, 403)
  t.match(refused.body, { code: 'access.purpose', transactionId: refused.transactionId }, 'a refusal is the problem')
})
