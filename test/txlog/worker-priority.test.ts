/**
 * The log worker inside a gateway yields the cores to requests (`log.workerNice`, Linux): its thread runs
 * niced, the gateway's main thread does not. Read from /proc, the kernel's own view.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { REDIS_URL, testRedis } from '../helpers/redis.js'
import { queueGateway } from '../helpers/txlog.js'

/** The niceness of each of this process's threads by name (field 19 of /proc/<pid>/task/<tid>/stat). */
function niceness (): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
    const comm = readFileSync(`/proc/${process.pid}/task/${tid}/comm`, 'utf8').trim()
    const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8')
    out.set(tid === String(process.pid) ? 'main' : comm, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]))
  }
  return out
}

// Linux only (where CI runs): elsewhere the priority is left alone, and there is nothing to check.
const NAME = 'the log worker thread runs niced; the main thread keeps its priority'
if (process.platform === 'linux') {
  t.test(NAME, async (t) => {
    const { prefix } = await testRedis(t)
    const gw = await queueGateway(t, { redisUrl: REDIS_URL, prefix })
    t.equal(gw.config.gateway.log.workerNice, 5, 'the default')
    const nice = niceness()
    t.equal(nice.get('ndx-log-worker'), 5, 'the worker thread')
    t.equal(nice.get('main'), 0, 'the main thread')
  })
}
