/**
 * The adapter catalog: coded adapters by name, and the one function that builds any service's adapter.
 */
import type { OperationSpec, ServiceSpec } from '../core/config-types.js'
import { businessRegistry } from './business-registry.js'
import { civilStatus } from './civil-status.js'
import type { Adapter, AdapterDeps, CodedAdapterDefinition, OperationShape } from './contract.js'
import { DeclarativeHttpAdapter, declarativeShape } from './http-declarative.js'
import { population } from './population.js'

export const CODED_ADAPTERS: Readonly<Record<string, CodedAdapterDefinition>> = Object.freeze({
  [population.name]: population,
  [civilStatus.name]: civilStatus,
  [businessRegistry.name]: businessRegistry,
})

/** An operation's shape, from its coded adapter or its declarative mapping; undefined for an unknown coded op. */
export function operationShape (service: ServiceSpec, op: OperationSpec): OperationShape | undefined {
  if (service.adapter === null) return declarativeShape(op)
  return CODED_ADAPTERS[service.adapter]?.operations[op.id]
}

export function createAdapter (spec: ServiceSpec, deps: AdapterDeps): Adapter {
  if (spec.adapter === null) return new DeclarativeHttpAdapter(spec, deps)
  const coded = CODED_ADAPTERS[spec.adapter]
  if (coded === undefined) throw new Error(`unknown coded adapter ${spec.adapter}`)
  return coded.create(spec, deps)
}

export type { Adapter, OperationShape } from './contract.js'
