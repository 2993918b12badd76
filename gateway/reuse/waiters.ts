/**
 * Readers waiting for another load's outcome, by record name: the store's events wake them; a wait that
 * hears nothing in time ends with null, so a lost event costs a poll, never a stuck request.
 */
import type { StoreEvent } from './store.js'

export class Waiters {
  readonly #byName = new Map<string, Set<(e: StoreEvent | null) => void>>()

  /** Hands an event to the readers waiting for its record. */
  wake (event: StoreEvent): void {
    for (const wake of this.#byName.get(event.key) ?? []) wake(event)
  }

  /** The next event about `name` within `ms` (else null); listening from the call on. `stop()` ends it early. */
  waitFor (name: string, ms: number): { event: Promise<StoreEvent | null>, stop: () => void } {
    let set = this.#byName.get(name)
    if (set === undefined) this.#byName.set(name, set = new Set())
    const waiters = set
    let wake: (e: StoreEvent | null) => void = () => {}
    const event = new Promise<StoreEvent | null>((resolve) => {
      const timer = setTimeout(() => wake(null), Math.max(1, ms))
      wake = (e) => {
        clearTimeout(timer)
        waiters.delete(wake)
        if (waiters.size === 0 && this.#byName.get(name) === waiters) this.#byName.delete(name)
        resolve(e)
      }
      waiters.add(wake)
    })
    return { event, stop: () => wake(null) }
  }
}
