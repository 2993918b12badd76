/**
 * The adapter contract (adapters/contract.ts), run against every adapter — the three coded ones and the
 * declarative HTTP adapter — each calling a real registry on port 0 that misbehaves as each case needs.
 * Only `load` and `close` are covered here: what reaches the registry and what comes back.
 */
import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, type Dispatcher } from 'undici'
import { createAdapter } from '../../adapters/index.js'
import { FIXTURES, send, startRegistry, type AdapterFixture } from './fixtures.js'

/** The largest reply the adapters accept here; every fixture's record fits in it. */
const MAX_BYTES = 4096

/** What a web server answers a call to a route the registry does not have: a misrouted call fails. */
const NO_SUCH_ROUTE = { status: 404, type: 'text/html', body: '<html>Not Found</html>' }

async function until (check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!check() && Date.now() < end) await sleep(10)
  return check()
}

function conformance (t: Test, fx: AdapterFixture): void {
  /** A registry answering the fixture's lookup with its record (else a 404 page), and the adapter calling it. */
  async function setup (t: Test, opts: { timeoutMs?: number, dispatcher?: Dispatcher, url?: string } = {}) {
    const registry = await startRegistry(t)
    registry.handle = (req, res, body) => send(res, fx.isLookup(req, body) ? fx.native(true) : NO_SUCH_ROUTE)
    const spec = fx.spec(opts.url ?? registry.url, opts.timeoutMs ?? 2000)
    const adapter = createAdapter(spec, opts.dispatcher === undefined
      ? { maxResponseBytes: MAX_BYTES }
      : { maxResponseBytes: MAX_BYTES, dispatcher: opts.dispatcher })
    t.teardown(() => adapter.close())
    return { registry, adapter, load: (signal?: AbortSignal) => adapter.load(fx.key, signal) }
  }

  t.test('a record the registry has is loaded and mapped', async (t) => {
    const { registry, load } = await setup(t)
    t.match(await load(), fx.record)
    t.equal(registry.requests, 1)
  })

  t.test('the registry saying it has no such record loads as null', async (t) => {
    const { registry, load } = await setup(t)
    registry.handle = (req, res, body) => send(res, fx.isLookup(req, body) ? fx.native(false) : NO_SUCH_ROUTE)
    t.equal(await load(), null)
    t.equal(registry.requests, 1)
  })

  t.test('a registry that cannot serve now (5xx, 429, 408) is upstream.unavailable', async (t) => {
    const { registry, load } = await setup(t)
    for (const status of [500, 502, 503, 504, 429, 408]) {
      registry.handle = (_req, res) => send(res, { status, type: 'text/html', body: `<html>${status}</html>` },
        { headers: status === 429 || status === 503 ? { 'retry-after': '7' } : {} })
      await t.rejects(load(), { name: 'GatewayError', code: 'upstream.unavailable' }, `${status}`)
    }
  })

  t.test('a registry that cannot be reached is upstream.unavailable', async (t) => {
    const { load } = await setup(t, { url: 'http://127.0.0.1:1' })
    await t.rejects(load(), { name: 'GatewayError', code: 'upstream.unavailable' })
  })

  t.test('a registry that does not answer within timeoutMs is upstream.timeout, and the call dropped', async (t) => {
    const { registry, load } = await setup(t, { timeoutMs: 300 })
    registry.handle = () => {}
    const started = Date.now()
    await t.rejects(load(), { name: 'GatewayError', code: 'upstream.timeout' })
    const took = Date.now() - started
    t.ok(took >= 250 && took < 1300, `given up after ${took} ms`)
    t.ok(await until(() => registry.dropped === 1, 500), 'the registry saw the call end')
  })

  t.test('a reply whose body stalls past timeoutMs is upstream.timeout', async (t) => {
    const { registry, load } = await setup(t, { timeoutMs: 300 })
    registry.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': fx.native(true).type })
      res.write(fx.native(true).body.slice(0, 20))
    }
    await t.rejects(load(), { name: 'GatewayError', code: 'upstream.timeout' })
  })

  t.test('a reply over maxResponseBytes is upstream.bad_response, with a Content-Length or without', async (t) => {
    const { registry, load } = await setup(t)
    const big = fx.native(true, MAX_BYTES)
    t.ok(Buffer.byteLength(fx.native(true).body) < MAX_BYTES, 'the same record without padding fits')
    for (const chunked of [false, true]) {
      registry.handle = (_req, res) => send(res, big, { chunked })
      const how = chunked ? 'streamed' : 'declared'
      await t.rejects(load(), { name: 'GatewayError', code: 'upstream.bad_response' }, how)
    }
    registry.handle = (_req, res) => send(res, fx.native(true))
    t.match(await load(), fx.record, 'and the next reply is read as usual')
  })

  t.test('a signal that aborts stops the call: load rejects at once with its reason', async (t) => {
    const { registry, load } = await setup(t, { timeoutMs: 5000 })
    registry.handle = () => {}
    const controller = new AbortController()
    const reason = new Error('the caller went away')
    setTimeout(() => controller.abort(reason), 100)
    const started = Date.now()
    const err = await load(controller.signal).then(() => null, (e: unknown) => e)
    t.equal(err, reason, 'rejected with the signal\'s reason')
    t.ok(Date.now() - started < 1000, `within ${Date.now() - started} ms, long before the 5 s timeout`)
    t.ok(await until(() => registry.dropped === 1, 500), 'the registry saw the call end')
  })

  t.test('a signal aborted before the call: nothing is sent', async (t) => {
    const { registry, load } = await setup(t)
    const signal = AbortSignal.abort()
    const err = await load(signal).then(() => null, (e: unknown) => e)
    t.equal(err, signal.reason, 'rejected with its reason (an AbortError, not a TypeError from reading it)')
    await sleep(50)
    t.equal(registry.requests, 0)
  })

  t.test('close releases the pool: no connection to the registry stays open', async (t) => {
    const { registry, adapter, load } = await setup(t)
    await Promise.all([load(), load()])
    t.ok(registry.open > 0, 'connections kept alive after the calls')
    await adapter.close()
    t.ok(await until(() => registry.open === 0, 1000), `all closed (${registry.open} open)`)
    await t.resolves(adapter.close(), 'closing again is harmless')
  })

  t.test('a dispatcher given in deps carries the calls, keeps the timeouts, and is left open by close', async (t) => {
    const agent = new Agent({ keepAliveTimeout: 30_000 })
    t.teardown(async () => { if (!agent.closed) await agent.close() })
    let dispatched = 0
    const counted = agent.compose((dispatch) => (opts, handler) => { dispatched++; return dispatch(opts, handler) })
    const { registry, adapter, load } = await setup(t, { dispatcher: counted, timeoutMs: 300 })
    t.match(await load(), fx.record)
    t.match(await load(), fx.record)
    t.equal(dispatched, 2, 'both calls went through it')
    const open = registry.open
    t.ok(open > 0, 'its connections kept alive')
    await adapter.close()
    await sleep(100)
    t.equal(agent.closed, false, 'close left the agent open')
    t.equal(registry.open, open, 'and its connections')
    const other = createAdapter(fx.spec(registry.url, 300), { maxResponseBytes: MAX_BYTES, dispatcher: counted })
    t.teardown(() => other.close())
    t.match(await other.load(fx.key), fx.record, 'another adapter calls through it')
    t.equal(dispatched, 3)
    registry.handle = () => {}
    await t.rejects(other.load(fx.key), { code: 'upstream.timeout' }, 'the registry\'s timeout holds through it')
    await agent.close()
    t.ok(await until(() => registry.open === 0, 1000), 'its owner closes it')
  })
}

for (const fx of FIXTURES) t.test(fx.name, async (t) => conformance(t, fx))
