/**
 * The container healthchecks (bin/healthcheck.js): the gateway's asks /health/live; the worker's reads the
 * heartbeat a real log worker process writes while it runs and its database answers.
 */
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { projectPath } from '../../core/paths.js'
import { buildTestGateway } from '../helpers/gateway.js'
import { freshDatabase } from '../helpers/postgres.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { CHECKPOINT_ENV, configWithPrefix, tempDir } from '../helpers/txlog.js'
import { childEnv } from '../helpers/child-env.js'

function healthcheck (what: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [projectPath('bin', 'healthcheck.js'), what],
      { env: { ...process.env, ...env } },
      (err) => {
        resolve(err === null ? 0 : typeof err.code === 'number' ? err.code : 1)
      }
    )
  })
}

t.test('gateway: healthy while /health/live answers, unhealthy when nothing listens', async (t) => {
  const { app } = await buildTestGateway(t)
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const port = new URL(url).port
  t.equal(await healthcheck('gateway', { PORT: port }), 0)
  await app.close()
  t.equal(await healthcheck('gateway', { PORT: port }), 1)
  t.equal(await healthcheck('something', {}), 2, 'an unknown check is a usage error')
})

t.test('worker: the heartbeat must exist and be fresh', async (t) => {
  const dir = await tempDir(t)
  t.equal(await healthcheck('worker', { DATA_DIR: dir }), 1, 'no heartbeat yet')
  await writeFile(join(dir, 'worker.alive'), 'now')
  t.equal(await healthcheck('worker', { DATA_DIR: dir }), 0)
  const old = new Date(Date.now() - 60_000)
  await utimes(join(dir, 'worker.alive'), old, old)
  t.equal(await healthcheck('worker', { DATA_DIR: dir }), 1, 'a stale heartbeat is unhealthy')
})

t.test('a real log worker process keeps its healthcheck green', async (t) => {
  const { prefix } = await testRedis(t)
  const { dir } = await configWithPrefix(t, prefix)
  const dataDir = await tempDir(t)
  const worker = spawn(process.execPath, ['--import', 'tsx', projectPath('gateway', 'main', 'worker.ts')], {
    cwd: projectPath(),
    env: childEnv({
      ...CHECKPOINT_ENV,
      CONFIG_DIR: dir,
      REDIS_URL,
      DATABASE_URL: await freshDatabase(t),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    }),
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const exited = once(worker, 'exit') as Promise<[number | null]>
  t.teardown(() => { if (worker.exitCode === null) worker.kill('SIGKILL') })
  let status = 1
  for (let i = 0; i < 80 && status !== 0 && worker.exitCode === null; i++) {
    await sleep(250)
    status = await healthcheck('worker', { DATA_DIR: dataDir })
  }
  t.equal(status, 0, 'healthy once it runs')
  worker.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0, 'and it stops cleanly')
})
