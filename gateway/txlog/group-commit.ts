/**
 * Group commit: callers add items and wait; items are written in batches, each caller's promise settling
 * with its batch. While a batch is being written the next one fills, so under load batches grow and the
 * cost of durability (a commit, a queue write, an fsync) is shared; when idle an item goes out at once.
 */
export interface GroupCommitOptions {
  readonly maxItems: number
  /**
   * Extra wait for more items before writing a batch that is not full — only while traffic is concurrent
   * (the last batch held more than one item); an item arriving alone goes out at once.
   */
  readonly maxWaitMs: number
  /** Batches written at the same time. */
  readonly concurrency: number
}

interface Pending<T> { item: T, resolve: () => void, reject: (err: unknown) => void }

export class GroupCommit<T> {
  readonly #flush: (items: T[]) => Promise<void>
  readonly #opts: GroupCommitOptions
  #pending: Array<Pending<T>> = []
  #running = 0
  /** Items in batches being written: still the caller's wait, so still backlog. */
  #writing = 0
  #scheduled = false
  #lastBatch = 0
  #idle: Array<() => void> = []

  constructor (flush: (items: T[]) => Promise<void>, opts: GroupCommitOptions) {
    this.#flush = flush
    this.#opts = opts
  }

  add (item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject })
      this.#kick()
    })
  }

  /** Items waiting or being written: added, and not yet settled. */
  get backlog (): number {
    return this.#pending.length + this.#writing
  }

  /** Resolves once everything added so far has been written (or failed). */
  async drain (): Promise<void> {
    if (this.#pending.length === 0 && this.#running === 0) return
    await new Promise<void>((resolve) => this.#idle.push(resolve))
  }

  #kick (): void {
    if (this.#running >= this.#opts.concurrency) return
    if (this.#pending.length >= this.#opts.maxItems) {
      this.#run()
      return
    }
    if (this.#scheduled) return
    this.#scheduled = true
    const go = (): void => {
      this.#scheduled = false
      if (this.#pending.length > 0 && this.#running < this.#opts.concurrency) this.#run()
    }
    if (this.#opts.maxWaitMs > 0 && this.#lastBatch > 1) setTimeout(go, this.#opts.maxWaitMs)
    else setImmediate(go)
  }

  #run (): void {
    const batch = this.#pending.splice(0, this.#opts.maxItems)
    this.#lastBatch = batch.length
    this.#running++
    this.#writing += batch.length
    // Out of the backlog before any caller hears, so a caller never sees its own settled item counted.
    const settle = (fn: (p: Pending<T>) => void): void => {
      this.#writing -= batch.length
      for (const p of batch) fn(p)
    }
    this.#flush(batch.map((p) => p.item)).then(
      () => settle((p) => p.resolve()),
      (err: unknown) => settle((p) => p.reject(err))
    ).finally(() => {
      this.#running--
      // Whatever arrived meanwhile has waited long enough: write it now, without another delay.
      if (this.#pending.length > 0) this.#run()
      else if (this.#running === 0) for (const done of this.#idle.splice(0)) done()
    })
  }
}
