/**
 * kill -9 mid-batch: a gateway running batch workers in process, or a separate `npm run worker`, is killed
 * with SIGKILL while items run; a new process takes over. Every item ends with exactly one result and
 * exactly one transaction record (counted in PostgreSQL: an item run twice would show as two records).
 * Real child processes, real Redis, real PostgreSQL.
 */
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { projectPath } from '../../core/paths.js'
import { PgSql } from '../../gateway/txlog/sql.js'
import { startLogWorker } from '../../gateway/txlog/worker.js'
import { LogWriter } from '../../gateway/txlog/writer.js'
import { NdxClient } from '../../sdk/index.js'
import { demoSigner, sharedSimulators } from '../helpers/gateway.js'
import { freshDatabase } from '../helpers/postgres.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { CHECKPOINT_ENV, tempDir } from '../helpers/txlog.js'
import { batchConfigDir, VERIFY, verifyItems } from './helpers.js'
import { childEnv } from '../helpers/child-env.js'

const ITEMS = 160
const ITEM_RECORDS = "SELECT id::text AS id FROM ndx_tx WHERE service = 'population' AND client = 'VN.VIETTEL'"

function start (
  t: Test, entry: 'gateway.ts' | 'worker.ts', env: Record<string, string>, ready: RegExp
): Promise<{ child: ChildProcess, match: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', projectPath('gateway', 'main', entry)], {
    cwd: projectPath(), env: childEnv(env), stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const m = ready.exec(out)
      if (m !== null) resolve({ child, match: m[1] ?? '' })
    })
    child.once('exit', () => reject(new Error(`${entry} exited before it was ready:\n${out}`)))
  })
}

async function scenario (t: Test, killWorker: boolean): Promise<void> {
  const sims = await sharedSimulators(t)
  const { prefix } = await testRedis(t)
  const dir = await batchConfigDir(t, prefix, { rps: 40 })
  const env = {
    ...sims.env,
    ...CHECKPOINT_ENV,
    CONFIG_DIR: dir,
    PORT: '0',
    REDIS_URL,
    DATABASE_URL: await freshDatabase(t),
    DATA_DIR: await tempDir(t),
    LOG_LEVEL: 'info',
    NDX_WORKER: killWorker ? 'false' : 'true',
  }
  const listening = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"gateway listening"/
  const workerReady = /"msg":"(batch workers running)"/
  const sql = new PgSql(env.DATABASE_URL)
  t.teardown(() => sql.close())
  // The gateway's log worker runs on a thread, which does not load TypeScript when the gateway is run with
  // tsx: the test drains the log queue itself (as test/txlog/sigkill.test.ts does).
  if (!killWorker) {
    const { migrate } = await import('../../gateway/txlog/schema.js')
    await migrate(sql)
    const logWorker = startLogWorker(REDIS_URL, `${prefix}bull`, new LogWriter(sql))
    t.teardown(() => logWorker.close())
  }
  let gateway = await start(t, 'gateway.ts', env, listening)
  let worker = killWorker ? await start(t, 'worker.ts', env, workerReady) : null
  let client = new NdxClient({ baseUrl: gateway.match, signer: await demoSigner('VN.VIETTEL') })

  const items = await verifyItems(ITEMS, 2000)
  const submitted = await client.call('POST', '/v1/batches', { body: { ...VERIFY, items } })
  t.equal(submitted.status, 202)
  const id = (submitted.body as { batchId: string }).batchId
  const progress = async (): Promise<{ state: string, done: number, failed: number }> =>
    (await client.call('GET', `/v1/batches/${id}`)).body as { state: string, done: number, failed: number }

  let before = await progress()
  while (before.done < 30) { await sleep(50); before = await progress() }
  const victim = (worker ?? gateway).child
  victim.kill('SIGKILL')
  await once(victim, 'exit')
  t.ok(before.done < ITEMS - 40, `killed mid-batch (${before.done} of ${ITEMS} done)`)

  if (killWorker) worker = await start(t, 'worker.ts', env, workerReady)
  else {
    gateway = await start(t, 'gateway.ts', env, listening)
    client = new NdxClient({ baseUrl: gateway.match, signer: await demoSigner('VN.VIETTEL') })
  }
  const end = Date.now() + 90_000
  let s = await progress()
  while (s.state !== 'done' && Date.now() < end) { await sleep(200); s = await progress() }
  t.match(s, { state: 'done', done: ITEMS, failed: 0 }, 'the batch finishes after the restart')

  const res = await client.call('GET', `/v1/batches/${id}/results`)
  const lines = (res.body as string).split('\n').filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { index: number, status: number, transactionId: string })
  t.same(
    lines.map((l) => l.index),
    Array.from({ length: ITEMS }, (_, i) => i),
    'no item lost: one result each, in order'
  )
  t.ok(lines.every((l) => l.status === 200))

  let rows: Array<{ id: string }> = []
  const until = Date.now() + 30_000
  do {
    await sleep(200)
    rows = await sql.query<{ id: string }>(ITEM_RECORDS)
  } while (rows.length < ITEMS && Date.now() < until)
  await sleep(1000)
  rows = await sql.query<{ id: string }>(ITEM_RECORDS)
  t.equal(rows.length, ITEMS, `none run twice: exactly one record per item (found ${rows.length})`)
  const logged = new Set(rows.map((r) => r.id))
  t.ok(lines.every((l) => logged.has(l.transactionId)), 'each result names its record')
}

t.test(
  'kill -9 the gateway (workers in process) mid-batch: the batch finishes after restart, each item once',
  (t) => scenario(t, false)
)
t.test(
  'kill -9 a separate batch worker mid-batch: another finishes the batch, each item once',
  (t) => scenario(t, true)
)
