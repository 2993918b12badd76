/**
 * The log worker on a thread of its own. `npm run gateway` includes a worker (a single instance is
 * complete), but draining the queue into PostgreSQL is steady work — fetching jobs, hashing the chain,
 * database round trips — and on the gateway's event loop it delays every request's Redis replies behind
 * it. On a worker thread it has its own event loop and can use another core.
 *
 * `startLogWorkerThread` runs in the gateway; the bottom of this file runs in the thread. A thread that
 * dies is started again: batches wait in the queue meanwhile, so nothing is lost.
 */
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { pino, type Logger } from 'pino'
import { loggerOptions } from '../process/logger.js'
import { PgSql } from './sql.js'
import { startLogWorker, type LogWorker } from './worker.js'
import { LogWriter } from './writer.js'

interface ThreadData {
  readonly redisUrl: string
  readonly databaseUrl: string
  readonly bullPrefix: string
  readonly logLevel: string
  /** Niceness of the thread (Linux), so that the gateway's requests come first when the cores are busy. */
  readonly nice?: number
}

/** The one message the thread takes; it answers by exiting. */
type ToThread = { type: 'close' }
/** The one message the thread sends: its worker is taking batches. */
type FromThread = { type: 'ready' }

const RESTART_DELAY_MS = 1000
const CLOSE_TIMEOUT_MS = 30_000

/** The same lifecycle as an in-process worker, for `TransactionLog`. */
export interface LogWorkerHandle {
  /** Resolves once a worker takes batches (a thread loads its code first: seconds under a TypeScript loader). */
  ready (): Promise<void>
  close (): Promise<void>
}

export function startLogWorkerThread (data: ThreadData, logger: Logger): LogWorkerHandle {
  // Run from TypeScript (tests, `npm run dev`) the thread loads this .ts file through the parent's
  // loader (worker threads inherit execArgv); compiled, the .js beside it.
  const entry = new URL(import.meta.url.endsWith('.ts') ? './worker-thread.ts' : './worker-thread.js', import.meta.url)
  let thread: Worker | null = null
  let closing = false
  let restartTimer: NodeJS.Timeout | null = null
  let markReady = (): void => {}
  const ready = new Promise<void>((resolve) => { markReady = resolve })

  const start = (): void => {
    const t = new Worker(entry, { workerData: data, name: 'ndx-log-worker' })
    thread = t
    t.on('message', (msg: FromThread) => { if (msg.type === 'ready') markReady() })
    t.on('error', (err) => logger.error({ err }, 'transaction log worker thread failed'))
    t.on('exit', (code) => {
      if (thread === t) thread = null
      if (closing) return
      logger.warn({ code }, 'transaction log worker thread exited; starting it again')
      restartTimer = setTimeout(() => { restartTimer = null; if (!closing) start() }, RESTART_DELAY_MS)
      restartTimer.unref()
    })
  }
  start()

  return {
    ready: () => ready,
    async close () {
      closing = true
      if (restartTimer !== null) clearTimeout(restartTimer)
      const t = thread
      if (t === null) return
      // Ask it to finish the jobs it holds and close its connections; terminate only if it does not.
      const exited = new Promise<void>((resolve) => t.once('exit', () => resolve()))
      t.postMessage({ type: 'close' } satisfies ToThread)
      const timer = setTimeout(() => { void t.terminate() }, CLOSE_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
    },
  }
}

/**
 * Lowers this thread's priority. Under Linux a thread is a task of its own with its own niceness, set by its
 * task id (setpriority(2)): the gateway's main thread keeps its priority. Catching up after a burst then
 * takes the cores the requests leave; the records wait in the queue meanwhile, already durable.
 */
function lowerPriority (nice: number, logger: Logger): void {
  if (nice <= 0 || process.platform !== 'linux') return
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    setPriority(tid, nice)
  } catch (err) {
    logger.warn({ err: { message: (err as Error).message } }, 'transaction log worker: priority left as it is')
  }
}

function runThread (data: ThreadData): void {
  const logger = pino(loggerOptions(data.logLevel) as object).child({ thread: 'log-worker' })
  lowerPriority(data.nice ?? 0, logger)
  const sql = new PgSql(data.databaseUrl)
  const writer = new LogWriter(sql)
  let worker: LogWorker | null = startLogWorker(data.redisUrl, data.bullPrefix, writer, logger)
  worker.worker.waitUntilReady().then(
    () => {
      parentPort?.postMessage({ type: 'ready' } satisfies FromThread)
    },
    () => {}
  )
  parentPort?.on('message', (msg: ToThread) => {
    if (msg.type !== 'close' || worker === null) return
    const w = worker
    worker = null
    void w.close()
      .then(() => sql.close())
      .catch((err: unknown) => logger.warn({ err }, 'transaction log worker thread: close failed'))
      .finally(() => { parentPort?.close() })
  })
}

if (!isMainThread && (workerData as { bullPrefix?: unknown } | null)?.bullPrefix !== undefined) {
  runThread(workerData as ThreadData)
}
