/**
 * Benchmark plumbing: child processes (gateway, ceiling, simulators, load generators), free ports, and CPU
 * accounting per process and per thread from /proc, so results can say where the CPU went.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { projectPath } from '../core/paths.js'
import type { LoadPlan, LoadResult } from './load.js'

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

/** Starts `node <script>` and resolves once its output matches `ready`, or once `ready` (a URL) answers. */
export async function startProcess (
  script: string,
  env: Record<string, string>,
  ready: RegExp | string,
  args: string[] = []
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...args, projectPath(script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', process.env.GW_STDERR === '1' ? 'inherit' : 'pipe'],
  })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    let done = false
    const finish = (): void => {
      if (!done) {
        done = true
        resolve()
      }
    }
    child.stdout?.on('data', (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-20_000)
      if (ready instanceof RegExp && ready.test(out)) finish()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-20_000)
    })
    child.once('exit', (code) => {
      if (!done) reject(new Error(`${script} exited (${code ?? 'signal'}) before it was ready:\n${out.slice(-2000)}`))
    })
    if (typeof ready === 'string') {
      const poll = (): void => {
        if (done) return
        fetch(ready).then(
          (r) => {
            if (r.ok) finish()
            else setTimeout(poll, 200)
          },
          () => setTimeout(poll, 200)
        )
      }
      poll()
    }
  })
  return child
}

export async function stopProcess (child: ChildProcess | null | undefined): Promise<void> {
  // A child that died of a signal has exitCode null and signalCode set: it is gone too, and will not emit 'exit' again.
  if (child == null || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}

interface Sample { cmd: string, ticks: number, threads: Map<string, number> }

function readTicks (path: string): number {
  const stat = readFileSync(path, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12])
}

/** Threads by the name Node gives them: JavaScript's main thread and log worker, libuv's pool, V8's helpers. */
const THREAD_NAMES: Record<string, string> = {
  MainThread: 'main', 'ndx-log-worker': 'log worker', 'libuv-worker': 'libuv pool', V8Worker: 'V8 helpers',
}

/** CPU ticks of every process (and, for watched pids, per thread, by name). */
export function cpuSnapshot (watch: readonly number[] = []): Map<string, Sample> {
  const out = new Map<string, Sample>()
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()
      const threads = new Map<string, number>()
      if (watch.includes(Number(pid))) {
        for (const tid of readdirSync(`/proc/${pid}/task`)) {
          const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
          const name = tid === pid ? 'main' : THREAD_NAMES[comm] ?? 'other'
          threads.set(name, (threads.get(name) ?? 0) + readTicks(`/proc/${pid}/task/${tid}/stat`))
        }
      }
      out.set(pid, { cmd, ticks: readTicks(`/proc/${pid}/stat`), threads })
    } catch { /* gone meanwhile */ }
  }
  return out
}

export interface CpuUse {
  label: string
  cores: number
  main?: number
  other?: number
  /** Cores by thread: main, log worker, libuv pool, V8 helpers, other. */
  threads?: Record<string, number>
}

/** Cores used per process between two snapshots, labelled by `labels` (pid → label), others by command. */
export function cpuBetween (
  a: Map<string, Sample>,
  b: Map<string, Sample>,
  seconds: number,
  labels: Map<number, string>
): CpuUse[] {
  const hz = 100
  const rows: CpuUse[] = []
  for (const [pid, before] of a) {
    const after = b.get(pid)
    if (after === undefined) continue
    const cores = (after.ticks - before.ticks) / hz / seconds
    if (cores < 0.01) continue
    const row: CpuUse = {
      label: labels.get(Number(pid)) ??
        (before.cmd.startsWith('postgres') ? 'postgres' : before.cmd.split(' ').slice(0, 2).join(' ').replace(/^.*\//, '')),
      cores,
    }
    if (before.threads.size > 0) {
      const main = ((after.threads.get('main') ?? 0) - (before.threads.get('main') ?? 0)) / hz / seconds
      row.main = main
      row.other = cores - main
      row.threads = {}
      for (const [name, ticks] of after.threads) {
        row.threads[name] = (ticks - (before.threads.get(name) ?? 0)) / hz / seconds
      }
    }
    rows.push(row)
  }
  return rows.sort((x, y) => y.cores - x.cores)
}

/** Runs one load plan in a forked load generator; snapshots CPU while it measures. */
export async function runLoad (
  plan: LoadPlan,
  watch: readonly number[] = []
): Promise<{ result: LoadResult; snapshots: [Map<string, Sample>, Map<string, Sample>] | null }> {
  const child = fork(projectPath('dist', 'bench', 'load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let before: Map<string, Sample> | null = null
  const result = await new Promise<LoadResult>((resolve, reject) => {
    child.on('message', (m: { measuring?: boolean; result?: LoadResult }) => {
      if (m.measuring === true) before = cpuSnapshot(watch)
      else if (m.result !== undefined) resolve(m.result)
    })
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited ${code}`))
    })
    child.send(plan)
  })
  const after = cpuSnapshot(watch)
  return { result, snapshots: before === null ? null : [before, after] }
}
