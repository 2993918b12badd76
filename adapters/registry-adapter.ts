/**
 * What every adapter shares: its service, one connection to its registry (`Upstream`, closed with the
 * adapter), and the common case of an operation that reads one record of its subject and answers with it.
 */
import type { OperationSpec, ServiceSpec } from '../core/config-types.js'
import type { Adapter, AdapterDeps, Answer, CanonicalRecord, OperationInput, RecordKey, RecordSet } from './contract.js'
import { Upstream } from './upstream.js'

export abstract class RegistryAdapter implements Adapter {
  readonly service: string
  protected readonly upstream: Upstream

  constructor (spec: ServiceSpec, deps: AdapterDeps) {
    this.service = spec.service
    this.upstream = new Upstream(spec.upstream, deps)
  }

  /** The key of the one record an operation reads by default. */
  protected abstract key (op: OperationSpec, input: OperationInput): RecordKey

  abstract load (key: RecordKey, signal?: AbortSignal): Promise<CanonicalRecord | null>

  reads (op: OperationSpec, input: OperationInput): readonly RecordKey[] {
    return [this.key(op, input)]
  }

  answer (op: OperationSpec, input: OperationInput, records: RecordSet): Answer {
    return { data: records.get(this.key(op, input)) ?? null }
  }

  async close (): Promise<void> {
    await this.upstream.close()
  }
}

/** A record of the subject with no parameters: what most coded operations read. */
export function subjectKey (service: string, kind: string, subject: string): RecordKey {
  return { service, kind, subject, params: {} }
}
