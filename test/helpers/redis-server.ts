/**
 * A private redis-server for tests that stop and restart Redis (the shared one must stay up for the others).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import type { Test } from 'tap'

export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

export interface PrivateRedis {
  readonly url: string
  readonly port: number
  start (): Promise<void>
  /** SIGKILL: Redis vanishes mid-flight, as in a crash. */
  kill (): Promise<void>
}

/**
 * A redis-server of the test's own. With `persistDir`, it persists as the compose file's Redis does (AOF,
 * fsync on every write), so a SIGKILL loses nothing it acknowledged — queued log records included.
 */
export async function privateRedis (t: Test, opts: { persistDir?: string } = {}): Promise<PrivateRedis> {
  const port = await freePort()
  let proc: ChildProcess | null = null
  const server: PrivateRedis = {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    async start () {
      // A second server on the same port would fail to bind while the probe below still found the first.
      if (proc !== null && proc.exitCode === null && proc.signalCode === null) {
        throw new Error('this redis-server is already running')
      }
      const persistence =
        opts.persistDir === undefined
          ? ['--appendonly', 'no']
          : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', opts.persistDir]
      proc = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--protected-mode', 'no'],
        { stdio: 'ignore' }
      )
      const probe = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      for (let i = 0; i < 100; i++) {
        try {
          await probe.connect()
          await probe.ping()
          probe.disconnect()
          return
        } catch {
          await sleep(50)
        }
      }
      probe.disconnect()
      throw new Error('redis-server did not start')
    },
    async kill () {
      const p = proc
      proc = null
      if (p === null || p.exitCode !== null || p.signalCode !== null) return
      const exited = new Promise((resolve) => p.once('exit', resolve))
      p.kill('SIGKILL')
      await exited
    },
  }
  t.teardown(() => server.kill())
  await server.start()
  return server
}
