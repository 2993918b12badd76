/**
 * Keyed pseudonyms (HMAC-SHA256 under the gateway's pseudonym key): the transaction log's `subjectRef`
 * and `onBehalfOf`, and key names in Redis. The same input always gives the same pseudonym, so auditors
 * can ask "who looked at this person" without the log ever holding the person's id.
 */
import { createHmac } from 'node:crypto'

/** Most lookups are of a few hot subjects; remembering their pseudonyms saves an HMAC per request. */
const MEMO_SIZE = 20_000

export class Pseudonymizer {
  readonly #key: Buffer
  #memo = new Map<string, string>()

  constructor (key: string) {
    this.#key = Buffer.from(key, 'utf8')
  }

  /** Domain-separated, so a subject and a `sub` with the same text do not share a pseudonym. */
  of (domain: 'subject' | 'sub' | 'key', value: string): string {
    const memoKey = `${domain}\0${value}`
    let out = this.#memo.get(memoKey)
    if (out === undefined) {
      out = createHmac('sha256', this.#key).update(domain).update('\0').update(value).digest('base64url')
      // Bounded: start afresh when full rather than tracking recency on the hot path.
      if (this.#memo.size >= MEMO_SIZE) this.#memo = new Map()
      this.#memo.set(memoKey, out)
    }
    return out
  }

  subjectRef (subject: string): string {
    return this.of('subject', subject)
  }

  onBehalfOf (sub: string): string {
    return this.of('sub', sub)
  }
}
