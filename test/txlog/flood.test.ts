/**
 * The flood (issue 9, finding 1): anonymous requests declaring `Content-Length: 2147483648` with no body,
 * in loops, beside legitimate lookups, on a real listening gateway. Every legitimate request is served and
 * recorded within 2 s — queue mode (real PostgreSQL + Redis, the worker on its thread) and standalone
 * direct mode (PGlite) — and the poison requests are recorded too, with the bytes actually received.
 */
import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { signRequest } from '../../sdk/index.js'
import { demoSigner } from '../helpers/gateway.js'
import { rawExchange } from '../helpers/raw-http.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { logGateway, queueGateway, waitLogged, type LogGateway } from '../helpers/txlog.js'

const CITIZEN = '/v1/population/citizens/030075654294'
const POISON = `GET ${CITIZEN} HTTP/1.1\r\nhost: gw\r\ncontent-length: 2147483648\r\n\r\n`

async function flood (t: Test, gw: LogGateway): Promise<void> {
  await gw.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (gw.app.server.address() as { port: number }).port
  // Warm up: the log worker (its own thread in queue mode) is running before the flood starts.
  const warm = await rawExchange(port, 'GET /v1/audit/counts HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n')
  t.equal(await waitLogged(gw.log.sql, [warm.headers['x-transaction-id'] as string], 30_000), 1, 'the log is writing')
  let stop = false
  const poisonIds: string[] = []
  const loop = async (): Promise<void> => {
    while (!stop) {
      const res = await rawExchange(port, POISON)
      if (res.status !== 401) throw new Error(`poison answered ${res.status}`)
      poisonIds.push(res.headers['x-transaction-id'] as string)
    }
  }
  const loops = [loop(), loop(), loop(), loop()]
  await sleep(100)
  const signer = await demoSigner('VN.LOC.DNG')
  const ids: string[] = []
  const statuses: number[] = []
  for (let i = 0; i < 50; i++) {
    // The signed version of the attack: a lookup that declares 2 GB and sends nothing.
    const token = await signRequest(signer, { method: 'GET', target: CITIZEN, purpose: 'public-service' })
    const res = await rawExchange(
      port,
      `GET ${CITIZEN} HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer ${token}\r\n` +
        `${i % 10 === 0 ? 'content-length: 2147483648\r\n' : 'connection: close\r\n'}\r\n`
    )
    statuses.push(res.status)
    ids.push(res.headers['x-transaction-id'] as string)
  }
  stop = true
  await Promise.all(loops)
  t.same(statuses, Array(50).fill(200), 'every legitimate lookup served')
  t.ok(poisonIds.length >= 20, `${poisonIds.length} poison requests beside them`)
  const t0 = Date.now()
  const logged = await waitLogged(gw.log.sql, ids, 2000)
  t.comment(`logged ${logged} after ${Date.now() - t0} ms; stats ${JSON.stringify(await gw.log.stats())}`)
  t.equal(logged, 50, 'every legitimate lookup in the log within 2 s')
  t.equal(await waitLogged(gw.log.sql, poisonIds, 2000), poisonIds.length, 'every poison request recorded too')
  const bytes = await gw.log.sql.query<{ n: number }>('SELECT max(request_bytes)::int AS n FROM ndx_tx')
  t.equal(bytes[0]?.n, 0, 'requestBytes is what was received, not what was declared')
  t.equal(await gw.log.writer.poisonedCount(), 0, 'nothing needed setting aside')
}

t.test('queue mode (PostgreSQL + Redis): a poison flood holds back no legitimate record', async (t) => {
  const { prefix } = await testRedis(t)
  await flood(t, await queueGateway(t, { redisUrl: REDIS_URL, prefix }))
})

t.test('direct mode (PGlite): a poison flood turns no legitimate reply into 503', async (t) => {
  await flood(t, await logGateway(t, { database: 'pglite' }))
})
