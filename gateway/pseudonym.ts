/**
 * Keyed pseudonyms (HMAC-SHA256 under the gateway's pseudonym key): the transaction log's `subjectRef`
 * and `onBehalfOf`, and key names in Redis. The same input always gives the same pseudonym, so auditors
 * can ask "who looked at this person" without the log ever holding the person's id.
 */
import { createHmac } from 'node:crypto'

export class Pseudonymizer {
  readonly #key: Buffer

  constructor (key: string) {
    this.#key = Buffer.from(key, 'utf8')
  }

  /** Domain-separated, so a subject and a `sub` with the same text do not share a pseudonym. */
  of (domain: 'subject' | 'sub' | 'key', value: string): string {
    return createHmac('sha256', this.#key).update(domain).update('\0').update(value).digest('base64url')
  }

  subjectRef (subject: string): string {
    return this.of('subject', subject)
  }

  onBehalfOf (sub: string): string {
    return this.of('sub', sub)
  }
}
