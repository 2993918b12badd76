/**
 * The per-request CPU budget (`npm run bench`, section P): where a signed reuse lookup's CPU goes, step by
 * step, from V8 CPU profiles of one gateway round (main thread and log-worker thread, `--cpu-prof`) and the
 * CPU the processes used meanwhile (/proc).
 *
 * Each main-thread sample is charged to the step of the nearest gateway frame on its stack (the leaf's
 * caller chain): a Redis command sent by the replay guard is the replay guard's. Samples with no gateway
 * frame (the HTTP parser, socket writes, Redis replies arriving, GC) are charged to what their own frame
 * names. A step's share of the thread's samples times the thread's CPU while measuring (/proc, by thread
 * name), over the requests measured, is its µs per request. Samples are counted, not timed: on a busy
 * machine a descheduled thread's next sample carries the time it waited, which is not CPU.
 */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { LoadResult } from './load.js'
import type { CpuUse } from './processes.js'

interface Frame { functionName: string, url: string }
interface Node { id: number, callFrame: Frame, children?: number[] }
interface Profile { nodes: Node[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

export interface BudgetRow { readonly step: string, readonly us: number, readonly where: string }
export interface Budget {
  readonly requests: number
  readonly rows: BudgetRow[]
  /** CPU per request in all, µs: every process on the machine but the load generator. */
  readonly totalUs: number
}

/** Gateway files → the step they belong to, in request order. First match wins. */
const STEPS: Array<[RegExp, string]> = [
  [/gateway\/auth\/replay-guard|gateway\/auth\/replay-/, 'replay guard (jti, Redis)'],
  [/gateway\/auth\/|gateway\/pipeline\/verify/, 'verify (token, signature)'],
  [/gateway\/access\/quota|gateway\/access\/verify-budget/, 'quota (Redis)'],
  [/gateway\/pipeline\/(identify|authorize|input)|gateway\/access\/|gateway\/runtime\//, 'identify, authorize'],
  [/gateway\/reuse\/|gateway\/pipeline\/fetch/, 'reuse read and decrypt'],
  [/gateway\/pipeline\/filter/, 'filter'],
  [/gateway\/pipeline\/reply|fast-json-stringify/, 'serialize'],
  [/gateway\/pipeline\/record|gateway\/plugins\/transactions|gateway\/txlog\/|bullmq|msgpackr/, 'record append (queue)'],
  [/gateway\/ops\/metrics|prom-client/, 'metrics'],
  [/gateway\/(plugins|http|pipeline\/request-path)/, 'HTTP (node:http, fastify, hooks)'],
]

/** A frame outside the gateway, when no gateway frame is on the stack. */
function library (f: Frame): string {
  const u = f.url
  if (f.functionName === '(garbage collector)') return 'GC'
  if (/ioredis|redis-parser|cluster-key-slot/.test(u)) return 'Redis client (replies)'
  if (/bullmq|msgpackr/.test(u)) return 'record append (queue)'
  if (/crypto/.test(u)) return 'verify (token, signature)'
  return 'HTTP (node:http, fastify, hooks)'
}

function stepOf (stack: Frame[]): string {
  for (const f of stack) {
    for (const [re, step] of STEPS) if (re.test(f.url)) return step
  }
  return library(stack[0] as Frame)
}

/**
 * Samples per step of one profile (idle and program time left out), from the first sample whose stack
 * matches `from` on: a profile spans the process's life, and its startup (loading modules, reading the
 * configuration) is no request's cost.
 */
function attribute (
  p: Profile, stepOfStack: (stack: Frame[]) => string, from: RegExp
): { busy: number, steps: Map<string, number> } {
  const nodes = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const memo = new Map<number, string>()
  const steps = new Map<string, number>()
  let busy = 0
  let started = false
  for (const id of p.samples) {
    const name = (nodes.get(id) as Node).callFrame.functionName
    if (name === '(idle)' || name === '(program)' || name === '(root)') continue
    let step = memo.get(id)
    if (step === undefined || !started) {
      const stack: Frame[] = []
      for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
        stack.push((nodes.get(x) as Node).callFrame)
      }
      started ||= stack.some((f) => from.test(f.url))
      if (!started) continue
      step = stepOfStack(stack)
      memo.set(id, step)
    }
    steps.set(step, (steps.get(step) ?? 0) + 1)
    busy++
  }
  return { busy, steps }
}

/** The log worker's steps: taking batches from the queue, hashing the chain, writing PostgreSQL. */
function workerStep (stack: Frame[]): string {
  for (const f of stack) {
    if (/gateway\/txlog\/(chain|writer)/.test(f.url) || /node:internal\/crypto\/hash/.test(f.url)) {
      return 'worker: chain and rows'
    }
    if (/node_modules\/pg/.test(f.url)) return 'worker: PostgreSQL protocol'
    if (/bullmq|ioredis|msgpackr/.test(f.url)) return 'worker: taking batches (BullMQ)'
  }
  return stack[0]?.functionName === '(garbage collector)' ? 'worker: GC' : 'worker: other'
}

export async function cpuBudget (dir: string, run: LoadResult, cpu: CpuUse[]): Promise<Budget> {
  const gateway = cpu.find((c) => c.label === 'gateway')
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))
  const profiles = await Promise.all(files.map(async (f) => ({
    name: f,
    profile: JSON.parse(await readFile(join(dir, f), 'utf8')) as Profile,
  })))
  // Node names a thread's profile CPU.<date>.<time>.<pid>.<thread id>.<n>: thread 0 is the main thread.
  const main = profiles.find((p) => p.name.split('.')[4] === '0')
  const worker = profiles.find((p) => p !== main)
  const requests = run.requests
  const cores = gateway?.threads ?? {}
  const usPerRequest = (c: number | undefined): number => ((c ?? 0) * run.seconds * 1e6) / Math.max(1, requests)
  const rows: BudgetRow[] = []
  const split = (
    profile: Profile | undefined, total: number, where: string, by: (s: Frame[]) => string, from: RegExp
  ): void => {
    if (profile === undefined) return
    const { busy, steps } = attribute(profile, by, from)
    for (const [step, n] of [...steps].sort((a, b) => b[1] - a[1])) {
      rows.push({ step, us: (total * n) / Math.max(1, busy), where })
    }
  }
  split(main?.profile, usPerRequest(cores.main), 'gateway main thread', stepOf, /gateway\/pipeline\/request-path/)
  split(worker?.profile, usPerRequest(cores['log worker']), 'log-worker thread', workerStep, /gateway\/txlog\/writer/)
  rows.push({ step: 'signature checks', us: usPerRequest(cores['libuv pool']), where: 'libuv pool' })
  rows.push({ step: 'GC and compilation helpers', us: usPerRequest(cores['V8 helpers']), where: 'V8 helper threads' })
  // The servers it talks to, for the whole picture (the machine's other processes are left out).
  const server = (re: RegExp): number => cpu.filter((c) => re.test(c.label)).reduce((n, c) => n + c.cores, 0)
  rows.push({ step: 'Redis (replay, quota, store, queue)', us: usPerRequest(server(/^redis-server/)), where: 'Redis server' })
  rows.push({ step: 'PostgreSQL (inserts, rollup)', us: usPerRequest(server(/^postgres/)), where: 'PostgreSQL server' })
  return { requests, rows, totalUs: rows.reduce((n, r) => n + r.us, 0) }
}
