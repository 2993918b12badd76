/**
 * What kept records are called. In clear (the in-process copy's key): service, kind, subject, parameters
 * and the mapping's version. In the store: keyed hashes only, `<index>:<record>`, where the index names a
 * subject of a service and starts with the service's group, so a subject's or a whole service's records
 * can be dropped by name, and a changed mapping or upstream never finds a record kept under the old one.
 */
import type { RecordKey } from '../../adapters/contract.js'
import type { Pseudonymizer } from '../../core/pseudonym.js'

export class RecordNames {
  readonly #pseudonymizer: Pseudonymizer

  constructor (pseudonymizer: Pseudonymizer) {
    this.#pseudonymizer = pseudonymizer
  }

  /** A record's name in clear: what its keyed-hash name is made from. */
  clear (key: RecordKey, version = ''): string {
    const params = Object.keys(key.params).sort().map((k) => `${k}=${key.params[k] as string}`).join('&')
    return `${key.service}\0${key.kind}\0${key.subject}\0${params}\0${version}`
  }

  /** `<index>:<record>`, from the record's key and its name in clear. */
  stored (key: RecordKey, clear: string): string {
    return `${this.index(key.service, key.subject)}:${this.#pseudonymizer.of('key', clear)}`
  }

  /** `<service group>.<subject>`: a service's indexes share a prefix, so a whole service can be purged. */
  index (service: string, subject: string): string {
    return `${this.group(service)}.${this.#pseudonymizer.of('key', `${service}\0${subject}`).slice(0, 32)}`
  }

  group (service: string): string {
    return this.#pseudonymizer.of('key', `service\0${service}`).slice(0, 16)
  }
}
