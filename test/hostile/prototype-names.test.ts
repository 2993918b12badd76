/**
 * Names that are members of every object's prototype (issue 10, item 8): `GET /docs/constructor` used to
 * find `Object.prototype.constructor` in the docs file table and crash with 500.
 */
import t from 'tap'
import { buildTestGateway, json, signedInject } from '../helpers/gateway.js'

t.test('prototype member names under /docs are 404 route.not_found, not 500', async (t) => {
  const { app } = await buildTestGateway(t)
  const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']
  for (const name of names) {
    const res = await app.inject({ url: `/docs/${name}` })
    t.equal(res.statusCode, 404, `/docs/${name}`)
    t.equal(json(res).code, 'route.not_found')
  }
  t.equal((await app.inject({ url: '/docs/swagger-ui.css' })).statusCode, 200, 'real assets are still served')
})

t.test('a notification naming a prototype member as its service is request.invalid', async (t) => {
  const { app } = await buildTestGateway(t)
  // `constructor` is the one Object.prototype member the service pattern (lowercase, digits, dashes) lets through.
  const body = { service: 'constructor', subject: '030075654294', event: 'updated' }
  const res = await signedInject(app, 'VN.BCA.C06', 'POST', '/v1/notifications', { body })
  t.equal(res.statusCode, 400)
  t.equal(json(res).code, 'request.invalid')
  t.match(json(res).errors, [{ name: 'service', reason: 'is not a configured service' }])
})
