/**
 * Nothing lost: a gateway killed with SIGKILL under load loses no record of any reply it sent. The
 * gateway runs as a real child process; its records are in the queue before each reply leaves, so a
 * worker started afterwards finds every served transaction id.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
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
import { CHECKPOINT_ENV, configWithPrefix, duplicateCount, tempDir, waitLogged } from '../helpers/txlog.js'
import { childEnv } from '../helpers/child-env.js'

t.test('SIGKILL under load: every served transaction is in the log afterwards', async (t) => {
  const sims = await sharedSimulators(t)
  const { prefix } = await testRedis(t)
  const { dir } = await configWithPrefix(t, prefix)
  const databaseUrl = await freshDatabase(t)
  const child = spawn(process.execPath, ['--import', 'tsx', projectPath('gateway', 'main', 'gateway.ts')], {
    cwd: projectPath(),
    env: childEnv({ ...sims.env, ...CHECKPOINT_ENV, CONFIG_DIR: dir, PORT: '0', REDIS_URL, DATABASE_URL: databaseUrl, DATA_DIR: await tempDir(t), NDX_WORKER: 'false', LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"gateway listening"/.exec(out)
      if (m !== null) resolve(m[1] as string)
    })
    child.once('exit', () => reject(new Error(`gateway exited before listening:\n${out}`)))
  })

  const client = new NdxClient({ baseUrl: url, signer: await demoSigner('VN.LOC.DNG') })
  const served: string[] = []
  let stop = false
  const loop = async (i: number): Promise<void> => {
    while (!stop) {
      try {
        const reply = i % 2 === 0
          ? await client.enterprise('2627349851')
          : await client.citizen(i % 4 === 1 ? '030075654294' : '096179024395', { purpose: 'public-service', fields: ['fullName'] })
        if (reply.status === 200 && reply.transactionId !== undefined) served.push(reply.transactionId)
      } catch {
        return // the gateway is gone
      }
    }
  }
  const loops = Array.from({ length: 16 }, (_, i) => loop(i))
  while (served.length < 400) await sleep(20)
  child.kill('SIGKILL')
  await once(child, 'exit')
  stop = true
  await Promise.all(loops)
  t.ok(served.length >= 400, `${served.length} replies served before the kill`)

  const sql = new PgSql(databaseUrl)
  t.teardown(() => sql.close())
  const worker = startLogWorker(REDIS_URL, `${prefix}bull`, new LogWriter(sql))
  t.teardown(() => worker.close())
  t.equal(await waitLogged(sql, served, 15_000), served.length, 'every served transaction id is in the log')
  t.equal(await duplicateCount(sql), 0, 'and none twice')
})
