/**
 * Graceful shutdown: closing stops accepting, lets requests in flight finish (and records them), then
 * flushes the log and closes pools.
 */
import t from 'tap'
import { request } from 'undici'
import { pino } from 'pino'
import { readEnvironment } from '../../gateway/config/env.js'
import { composeGateway } from '../../gateway/compose.js'
import { standaloneServices } from '../../gateway/services.js'
import { openTransactionLog } from '../../gateway/txlog/log.js'
import { PgSql } from '../../gateway/txlog/sql.js'
import { signRequest } from '../../sdk/index.js'
import { demoConfig, demoSigner, sharedSimulators } from '../helpers/gateway.js'
import { freshDatabase } from '../helpers/postgres.js'
import { CHECKPOINT_ENV, tempDir } from '../helpers/txlog.js'

t.test('a request in flight finishes and is recorded; new connections are refused', async (t) => {
  const sims = await sharedSimulators(t)
  const config = await demoConfig(t, CHECKPOINT_ENV)
  const databaseUrl = await freshDatabase(t)
  const log = await openTransactionLog(
    readEnvironment({ DATABASE_URL: databaseUrl, DATA_DIR: await tempDir(t) }),
    config,
    pino({ level: 'silent' }),
    null
  )
  const services = standaloneServices(config, { log })
  const app = await composeGateway({ config, services })
  app.addHook('onClose', async () => { await services.close() })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })

  sims.civilStatus.settings.latencyMs = 500
  t.teardown(() => { sims.civilStatus.settings.latencyMs = 0 })
  const target = '/v1/civil-status/persons/030075654294/events'
  const token = await signRequest(await demoSigner('VN.LOC.DNG'), { method: 'GET', target, purpose: 'public-service' })
  const inFlight = request(url + target, { headers: { authorization: `Bearer ${token}` } })
  await new Promise((resolve) => setTimeout(resolve, 150))
  const closing = app.close()

  const res = await inFlight
  t.equal(res.statusCode, 200, 'the request in flight was answered')
  const txn = res.headers['x-transaction-id'] as string
  await res.body.dump()
  await closing
  await t.rejects(request(url + '/health/live'), 'no new connections after close')

  const sql = new PgSql(databaseUrl)
  t.teardown(() => sql.close())
  const rows = await sql.query<{ id: string, status: number }>('SELECT id::text AS id, status FROM ndx_tx')
  t.same(rows, [{ id: txn, status: 200 }], 'its record was flushed before the log closed')
})
