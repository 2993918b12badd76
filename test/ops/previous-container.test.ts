/**
 * Spooled records stranded by a previous container: its spool files (written by a process with the same
 * PID, under the same or another hostname) sit in a data directory two new gateway processes share.
 * Every record reaches PostgreSQL exactly once: one process claims each file, the other never replays it.
 */
import t from 'tap'
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { PgSql } from '../../gateway/txlog/sql.js'
import { startLogWorker } from '../../gateway/txlog/worker.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { sharedSimulators } from '../helpers/gateway.js'
import { freshDatabase } from '../helpers/postgres.js'
import { record } from '../helpers/records.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { CHECKPOINT_ENV, configWithPrefix, duplicateCount, tempDir, waitLogged } from '../helpers/txlog.js'
import { startGatewayProcess } from './gateway-process.js'

t.test("a previous container's spool files are replayed exactly once by the processes that follow it", async (t) => {
  const sims = await sharedSimulators(t)
  const { prefix } = await testRedis(t)
  const { dir } = await configWithPrefix(t, prefix)
  const databaseUrl = await freshDatabase(t)
  const dataDir = await tempDir(t)
  const spool = join(dataDir, 'spool')
  await mkdir(spool, { recursive: true })
  // The previous container's process had a PID that is alive again now (here: this test's own), on this
  // host or on another pod; it died a while ago, with records spooled and their replies sent.
  const ids: string[] = []
  const longAgo = new Date(Date.now() - 600_000)
  for (const [name, n] of [
    [`${hostname()}-${process.pid}-1700000000000.ndjson`, 60],
    [`gateway-5d8f7-x2k4q-${process.pid}-1700000000001.ndjson`, 40],
  ] as const) {
    const records = Array.from({ length: n }, () => record({ at: new Date(Date.now() - 60_000) }))
    ids.push(...records.map((r) => r.id))
    await writeFile(join(spool, name), records.map((r) => JSON.stringify(r)).join('\n') + '\n')
    await utimes(join(spool, name), longAgo, longAgo)
  }

  const env = {
    ...sims.env,
    ...CHECKPOINT_ENV,
    CONFIG_DIR: dir,
    REDIS_URL,
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    NDX_WORKER: 'false',
  }
  const gws = await Promise.all([startGatewayProcess(t, env), startGatewayProcess(t, env)])

  const sql = new PgSql(databaseUrl)
  t.teardown(() => sql.close())
  // The log worker runs apart (NDX_WORKER=false), as the compose file runs it.
  const worker = startLogWorker(REDIS_URL, `${prefix}bull`, new LogWriter(sql))
  t.teardown(() => worker.close())
  t.equal(await waitLogged(sql, ids, 30_000), ids.length, 'every stranded record is in the log')
  t.equal(await duplicateCount(sql), 0, 'none twice')
  const replayed = gws.map((gw) => gw.logs
    .filter((l) => l.msg === 'transaction log: spooled records moved to the queue')
    .reduce((n, l) => n + (l.records as number), 0))
  t.equal(
    (replayed[0] as number) + (replayed[1] as number),
    ids.length,
    `replayed exactly once between the two processes (${replayed.join(' + ')})`
  )
  for (let i = 0; i < 20 && (await readdir(spool)).length > 0; i++) await sleep(100)
  t.same(await readdir(spool), [], 'the spool directory is empty')
})
