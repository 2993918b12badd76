/**
 * The routes the gateway serves itself, beside the configured operations, and their handlers: notifications
 * (§6), the auditor API and export (§7), administration (§2) and batches (§10).
 */
import type { Pseudonymizer } from '../../core/pseudonym.js'
import type { BatchService } from '../batch/service.js'
import type { Cluster } from '../ops/cluster.js'
import type { BuiltinHandler } from '../pipeline/request-path.js'
import type { RecordReader } from '../reuse/reader.js'
import type { ReloadResult } from '../runtime/reload-result.js'
import type { BuiltinRoute } from '../runtime/runtime.js'
import type { TransactionLog } from '../txlog/log.js'
import { ADMIN_ROUTES, adminHandlers } from './admin.js'
import { AUDIT_EXPORT_ROUTE, auditExportHandler } from './audit-export.js'
import { AUDIT_ROUTES, auditHandlers } from './audit.js'
import { BATCH_ROUTES, batchHandlers } from './batches.js'
import { NOTIFICATION_ROUTE, notificationHandler } from './notifications.js'

export const BUILTIN_ROUTES: readonly BuiltinRoute[] = [
  NOTIFICATION_ROUTE, ...AUDIT_ROUTES, AUDIT_EXPORT_ROUTE, ...ADMIN_ROUTES, ...BATCH_ROUTES,
]

export interface BuiltinDeps {
  readonly records: RecordReader
  readonly log: TransactionLog | null
  readonly pseudonymizer: Pseudonymizer
  readonly reload: () => Promise<ReloadResult>
  readonly cluster: () => Cluster
  readonly batches: BatchService | null
}

export function builtinHandlers (deps: BuiltinDeps): Record<string, BuiltinHandler> {
  const pseudonymizer = (): Pseudonymizer => deps.pseudonymizer
  return {
    [NOTIFICATION_ROUTE.name]: notificationHandler(deps.records),
    ...auditHandlers(deps.log, pseudonymizer),
    [AUDIT_EXPORT_ROUTE.name]: auditExportHandler(deps.log, pseudonymizer),
    ...adminHandlers({ reload: deps.reload, cluster: deps.cluster, records: deps.records }),
    ...batchHandlers(deps.batches),
  }
}
