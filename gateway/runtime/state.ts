/**
 * The configuration serving now, and how it is replaced (CONTRACT §2): a reload reads CONFIG_DIR again
 * and swaps a new Runtime in; requests in flight finish on the one they started with. A directory with any
 * issue is refused as a whole and the running configuration keeps serving.
 */
import type { Logger } from 'pino'
import type { GatewayConfig } from '../../core/config-types.js'
import { problem } from '../../core/errors.js'
import type { Cluster } from '../ops/cluster.js'
import type { Metrics } from '../ops/metrics.js'
import type { RecordReader } from '../reuse/reader.js'
import { changedRecordVersions } from '../reuse/record-version.js'
import { describeReload, type ReloadResult } from './reload-result.js'
import { Runtime, type BuiltinRoute } from './runtime.js'

export interface GatewayStateOptions {
  readonly config: GatewayConfig
  readonly builtins: readonly BuiltinRoute[]
  /** Reads the configuration directory again; without it, reloads are refused. */
  readonly loadConfig?: () => Promise<GatewayConfig>
  readonly records: RecordReader
  readonly metrics: Metrics
  readonly logger: Logger
}

export class GatewayState {
  readonly #opts: GatewayStateOptions
  #runtime: Runtime
  #cluster: Cluster | null = null

  constructor (opts: GatewayStateOptions) {
    this.#opts = opts
    this.#runtime = new Runtime(opts.config, { builtins: opts.builtins, onJwksError: this.#onJwksError })
  }

  readonly #onJwksError = (err: unknown, agency: string): void => {
    this.#opts.logger.warn({ err, agency }, 'JWKS fetch failed; keeping known keys')
  }

  /** The platform this instance tells about its reloads (set once, after it is built from this state). */
  joined (cluster: Cluster): void {
    this.#cluster = cluster
  }

  current (): Runtime {
    return this.#runtime
  }

  /** Swaps in a new configuration; requests in flight finish on the one they started with. */
  replace (next: GatewayConfig): ReloadResult {
    const old = this.#runtime
    this.#runtime = new Runtime(next, { builtins: this.#opts.builtins, previous: old, onJwksError: this.#onJwksError })
    old.retire()
    const result = describeReload(old.config, next)
    if (result.restartRequired.length > 0) {
      this.#opts.logger.warn(
        { sections: result.restartRequired },
        'reloaded; these settings apply only after a restart'
      )
    }
    return result
  }

  /**
   * Loads the configuration directory again and swaps it in; rejects with a ConfigError and changes nothing.
   * An operator's reload (`announce`, the default) makes every instance sharing the Redis reload too, and
   * drops the records kept under mappings or upstreams it changed.
   */
  async reload ({ announce = true }: { announce?: boolean } = {}): Promise<ReloadResult> {
    const { loadConfig, metrics, logger } = this.#opts
    if (loadConfig === undefined) {
      throw problem('gateway.unavailable', 'This gateway was started without a configuration directory to reload')
    }
    const before = this.#runtime.config
    let result: ReloadResult
    try {
      result = this.replace(await loadConfig())
    } catch (err) {
      metrics.reload(false)
      await this.#cluster?.reloaded('refused', false)
      const issues = (err as { issues?: unknown }).issues
      if (!announce) {
        logger.error(
          issues === undefined ? { err } : { issues },
          'announced reload refused; the running configuration keeps serving'
        )
      }
      throw err
    }
    metrics.reload(true)
    logger.info({ digest: result.digest, announced: announce }, 'configuration reloaded')
    // Records kept under a changed mapping are unreachable already (their version is in their name);
    // dropping them also keeps them from coming back should the change be reverted.
    if (announce) await this.#dropChangedRecords(before, this.#runtime.config)
    await this.#cluster?.reloaded('applied', announce)
    return result
  }

  async #dropChangedRecords (before: GatewayConfig, after: GatewayConfig): Promise<void> {
    const { records, logger } = this.#opts
    for (const service of changedRecordVersions(before.services, after.services)) {
      try {
        const dropped = await records.invalidate(service)
        logger.info({ service, dropped }, 'mapping or upstream changed; kept records dropped')
      } catch {
        logger.warn({ service }, 'mapping or upstream changed; kept records not dropped (they are never served)')
      }
    }
  }

  close (): Promise<void> {
    return this.#runtime.close()
  }
}
