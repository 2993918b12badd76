/**
 * One platform across instances (CONTRACT §2 v1.1): gateway instances sharing a Redis list themselves
 * there (`GET /v1/admin/instances`) and hear about each other's reloads, so an accepted reload on any of
 * them makes every instance load its CONFIG_DIR within 2 s.
 *
 * A reload accepted here bumps a counter in Redis and publishes it. Every instance reloads when it sees a
 * counter higher than the last it applied: at once on the published message, or within a second from its
 * heartbeat, which also reads the counter — so an instance whose subscription dropped still catches up.
 * Instances reloaded this way do not announce again. Standalone (no Redis), the platform is this instance.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'

export interface InstanceInfo {
  readonly id: string
  readonly startedAt: string
  readonly version: string
  readonly configDigest: string
  readonly lastReload: { readonly at: string, readonly result: 'applied' | 'refused' } | null
}

export interface Cluster {
  /** This instance as the listing shows it. */
  self (): InstanceInfo
  /** Every live instance sharing the Redis (this one included), oldest first. */
  instances (): Promise<InstanceInfo[]>
  /** Notes a reload's outcome here; `announce` (an operator's reload, accepted) makes every instance reload. */
  reloaded (result: 'applied' | 'refused', announce: boolean): Promise<void>
  close (): Promise<void>
}

export interface ClusterOptions {
  readonly version: string
  readonly configDigest: () => string
  /** Reloads this instance's configuration because another instance reloaded (never announced again). */
  readonly reload: () => Promise<unknown>
  readonly logger?: Pick<Logger, 'info' | 'warn'>
  /** Heartbeat period; an instance silent for 5 periods is left out of the listing. */
  readonly heartbeatMs?: number
}

class Member {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
  readonly startedAt = new Date().toISOString()
  lastReload: InstanceInfo['lastReload'] = null
  constructor (readonly opts: ClusterOptions) {}

  info (): InstanceInfo {
    const { id, startedAt, lastReload } = this
    return { id, startedAt, version: this.opts.version, configDigest: this.opts.configDigest(), lastReload }
  }
}

/** Standalone: the platform is this instance. */
export function localCluster (opts: ClusterOptions): Cluster {
  const me = new Member(opts)
  return {
    self: () => me.info(),
    instances: async () => [me.info()],
    async reloaded (result) { me.lastReload = { at: new Date().toISOString(), result } },
    async close () {},
  }
}

export class RedisCluster implements Cluster {
  readonly #me: Member
  readonly #redis: Redis
  readonly #subscriber: Redis
  readonly #keys: { instances: string, counter: string, channel: string }
  readonly #periodMs: number
  readonly #timer: NodeJS.Timeout
  /** The highest reload counter this instance has applied (or announced). */
  #applied = -1
  #announcePending = false
  #reloading: Promise<void> = Promise.resolve()
  #closed = false

  constructor (redis: Redis, prefix: string, opts: ClusterOptions) {
    this.#me = new Member(opts)
    this.#redis = redis
    const key = `${prefix}cluster:`
    this.#keys = { instances: `${key}instances`, counter: `${key}reloads`, channel: `${key}events` }
    this.#periodMs = opts.heartbeatMs ?? 1000
    // A subscriber needs its own connection; it queues its SUBSCRIBE until Redis is reachable.
    this.#subscriber = redis.duplicate({
      enableOfflineQueue: true, maxRetriesPerRequest: null, enableAutoPipelining: false,
    })
    this.#subscriber.on('error', () => { /* reported by the main connection */ })
    this.#subscriber.on('message', (_channel: string, message: string) => {
      const n = Number(message)
      if (Number.isSafeInteger(n)) this.#catchUp(n)
    })
    this.#subscriber.subscribe(this.#keys.channel).catch(() => { /* resubscribed on reconnect */ })
    this.#timer = setInterval(() => { void this.#beat() }, this.#periodMs).unref()
  }

  /** Reads where the platform is (this instance's configuration is current as of now) and says hello. */
  async start (): Promise<void> {
    try {
      this.#applied = Number(await this.#redis.get(this.#keys.counter) ?? 0)
    } catch {
      this.#applied = 0 // Redis away: the heartbeat catches up with any reload announced meanwhile
    }
    await this.#beat()
  }

  self (): InstanceInfo {
    return this.#me.info()
  }

  async instances (): Promise<InstanceInfo[]> {
    const all = await this.#redis.hgetall(this.#keys.instances)
    const live: InstanceInfo[] = []
    const gone: string[] = []
    const cutoff = Date.now() - 5 * this.#periodMs
    for (const [id, json] of Object.entries(all)) {
      const entry = JSON.parse(json) as InstanceInfo & { seenAt: number }
      if (entry.seenAt < cutoff) { gone.push(id); continue }
      const { seenAt: _seen, ...info } = entry
      live.push(info)
    }
    if (gone.length > 0) await this.#redis.hdel(this.#keys.instances, ...gone).catch(() => {})
    return live.sort((a, b) => a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.id < b.id ? -1 : 1)
  }

  async reloaded (result: 'applied' | 'refused', announce: boolean): Promise<void> {
    this.#me.lastReload = { at: new Date().toISOString(), result }
    if (announce && result === 'applied') {
      this.#announcePending = true
      await this.#announce()
    }
    await this.#beat()
  }

  async #announce (): Promise<void> {
    try {
      const n = await this.#redis.incr(this.#keys.counter)
      this.#applied = Math.max(this.#applied, n)
      this.#announcePending = false
      await this.#redis.publish(this.#keys.channel, String(n))
      this.#me.opts.logger?.info({ reload: n }, 'reload announced to every instance')
    } catch {
      // Redis away: announced by the next heartbeat that reaches it.
    }
  }

  /** Reloads once for every counter value above the last applied (several announcements, one reload). */
  #catchUp (n: number): void {
    if (this.#closed || this.#applied < 0 || n <= this.#applied) return
    this.#applied = n
    this.#reloading = this.#reloading.then(async () => {
      if (this.#closed) return
      this.#me.opts.logger?.info({ reload: n }, 'another instance reloaded; reloading')
      // The reload records its own outcome (reloaded(…, false)) and logs a refusal.
      await this.#me.opts.reload().catch(() => {})
    })
  }

  async #beat (): Promise<void> {
    if (this.#closed) return
    try {
      if (this.#announcePending) await this.#announce()
      const entry = JSON.stringify({ ...this.#me.info(), seenAt: Date.now() })
      const [, counter] = await Promise.all([
        this.#redis.hset(this.#keys.instances, this.#me.id, entry),
        this.#redis.get(this.#keys.counter),
      ])
      this.#catchUp(Number(counter ?? 0))
    } catch {
      // Redis away: the listing shows this instance again once it is back.
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    this.#subscriber.disconnect()
    await this.#redis.hdel(this.#keys.instances, this.#me.id).catch(() => {})
  }
}
