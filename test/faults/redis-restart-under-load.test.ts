/**
 * Fault: Redis killed (SIGKILL) and restarted while agencies are calling, with the gateway assembled as in
 * production (createServices: Redis replay guard, reuse store, quota and log queue; PostgreSQL log with its
 * worker). Redis persists as compose's does (AOF, fsync always), so it loses nothing it acknowledged.
 *
 * What must hold: every reply is a 200 or a clean problem+json 503; no request hangs; every 200 served —
 * before, during and after the outage — has its record in PostgreSQL afterwards (spooled records replayed);
 * and the gateway recovers by itself: ready again, reusing again, spool empty.
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { request } from 'undici'
import { readEnvironment } from '../../gateway/config/env.js'
import { composeGateway } from '../../gateway/compose.js'
import { createServices } from '../../gateway/services.js'
import { signRequest } from '../../sdk/index.js'
import { demoSigner, sharedSimulators } from '../helpers/gateway.js'
import { freshDatabase } from '../helpers/postgres.js'
import { uniquePrefix } from '../helpers/redis.js'
import { privateRedis } from '../helpers/redis-server.js'
import type { TransactionLog } from '../../gateway/txlog/log.js'
import { CHECKPOINT_ENV, configWithPrefix, duplicateCount, tempDir, waitLogged } from '../helpers/txlog.js'

interface Outcome {
  status: number
  type: string
  code: string | null
  txn: string | null
  source: string | null
  startedAt: number
  ms: number
}

const CALLERS = 12
const RUN_MS = 6000
const KILL_AT_MS = 1500
const RESTART_AT_MS = 3500

t.test(
  'Redis killed and restarted under load: 200 or a clean 503, nothing hangs, every served reply recorded, ' +
    'recovery on its own',
  async (t) => {
    const server = await privateRedis(t, { persistDir: await tempDir(t, 'ndx-redis-') })
    const { config } = await configWithPrefix(t, uniquePrefix(), CHECKPOINT_ENV)
    const databaseUrl = await freshDatabase(t)
    const env = readEnvironment({ REDIS_URL: server.url, DATABASE_URL: databaseUrl, DATA_DIR: await tempDir(t) })
    const services = await createServices(env, config, pino({ level: 'silent' }))
    const app = await composeGateway({ config, services })
    t.teardown(async () => {
      await app.close()
      await services.close()
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

    // A mix of hot records (reused) and new ones (registry calls), as real traffic is.
    const sims = await sharedSimulators(t)
    const ids = [...(await import('../../simulators/data.js').then((m) => m.registryData())).citizens.keys()]
    const hot = ids.slice(100, 110)
    const signer = await demoSigner('VN.LOC.DNG')
    const call = async (id: string): Promise<Outcome> => {
      const target = `/v1/population/citizens/${id}?fields=fullName`
      const token = await signRequest(signer, { method: 'GET', target, purpose: 'public-service' })
      const startedAt = performance.now()
      const res = await request(base + target, {
        headers: { authorization: `Bearer ${token}` },
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      })
      const body = (await res.body.json()) as { code?: string; meta?: { source?: string } }
      return {
        status: res.statusCode,
        type: String(res.headers['content-type'] ?? ''),
        code: body.code ?? null,
        txn: (res.headers['x-transaction-id'] as string | undefined) ?? null,
        source: body.meta?.source ?? null,
        startedAt,
        ms: performance.now() - startedAt,
      }
    }
    for (const id of hot) t.equal((await call(id)).status, 200, 'warm-up')

    const t0 = performance.now()
    const outcomes: Outcome[] = []
    let fresh = 1000
    const caller = async (n: number): Promise<void> => {
      for (let i = 0; performance.now() - t0 < RUN_MS; i++) {
        const id = i % 3 === 0 ? (ids[fresh++] as string) : (hot[(n + i) % hot.length] as string)
        outcomes.push(await call(id))
      }
    }
    // The outage must really happen: readiness says so and records go to the disk spool meanwhile.
    const seen = { readyDuring: 0, spooledDuring: 0 }
    const chaos = (async () => {
      await sleep(KILL_AT_MS)
      await server.kill()
      await sleep(1000)
      seen.readyDuring = await request(`${base}/health/ready`).then(async (r) => {
        await r.body.dump()
        return r.statusCode
      })
      await sleep(RESTART_AT_MS - KILL_AT_MS - 1100)
      seen.spooledDuring = (await services.log?.stats())?.spooled ?? 0
      await server.start()
    })()
    await Promise.all([...Array.from({ length: CALLERS }, (_, n) => caller(n)), chaos])

    const statuses = [...new Set(outcomes.map((o) => o.status))].sort()
    t.comment(`${outcomes.length} requests; statuses ${JSON.stringify(statuses)}`)
    t.ok(outcomes.length > 100, 'traffic flowed throughout')
    t.same(
      statuses.filter((s) => s !== 200 && s !== 503),
      [],
      'only 200 or 503'
    )
    for (const o of outcomes.filter((x) => x.status === 503)) {
      t.match(
        o,
        { type: /^application\/problem\+json/, code: /^(gateway|upstream)\.unavailable$/ },
        'a 503 is a clean problem'
      )
    }
    t.ok(Math.max(...outcomes.map((o) => o.ms)) < 5000, 'no request hung')
    const during = outcomes.filter(
      (o) => o.status === 200 && o.startedAt - t0 > KILL_AT_MS + 100 && o.startedAt - t0 < RESTART_AT_MS - 100
    )
    t.ok(during.length > 10, `${during.length} lookups served while Redis was down`)
    t.equal(seen.readyDuring, 503, 'the outage was real: /health/ready said so')
    t.ok(seen.spooledDuring > 0, `the outage was real: ${seen.spooledDuring} records spooled to disk meanwhile`)
    t.equal(sims.population.settings.failRate, 0, 'the registry itself stayed healthy')

    // Recovery on its own: ready again, the spool replayed into the queue, records reused again.
    let ready = false
    for (let i = 0; i < 100 && !ready; i++) {
      ready =
        (await request(`${base}/health/ready`).then(async (r) => {
          await r.body.dump()
          return r.statusCode
        })) === 200
      if (!ready) await sleep(100)
    }
    t.ok(ready, '/health/ready is 200 again without a restart')
    let reused = false
    for (let i = 0; i < 40 && !reused; i++) {
      reused = (await call(hot[0] as string)).source === 'reuse'
      if (!reused) await sleep(100)
    }
    t.ok(reused, 'records are reused again')

    // Every served reply has its record in PostgreSQL (the worker drains the queue, the spool included).
    // A batch Redis persisted as taken just before it died waits for its lock to expire and a stall check
    // (gateway/txlog/worker.ts RECOVERY: 10 s + 5 s): allow that, with margin.
    const log = services.log as TransactionLog
    const served = outcomes.filter((o) => o.status === 200).map((o) => o.txn as string)
    t.equal(
      await waitLogged(log.sql, served, 30_000),
      served.length,
      `all ${served.length} served transactions are in the log`
    )
    t.equal((await log.stats()).spooled, 0, 'the spool is empty')
    t.equal(await duplicateCount(log.sql), 0, 'and none twice')
  }
)
