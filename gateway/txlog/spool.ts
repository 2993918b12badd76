/**
 * The local spool: when the queue cannot take records (Redis down), they are appended to a file under
 * DATA_DIR and fsynced before the replies they belong to are sent; once the queue answers again they are
 * moved into it and the file is removed.
 *
 * Files are claimed, never guessed at by PID or hostname: in a container the next process is PID 1 again,
 * and on a new pod the hostname differs, so neither says whether a file's writer is alive. Instead:
 * - a writer holds a lease on its file by touching it (mtime) every `leaseMs / 4` while it is open;
 * - a file whose lease has lapsed (untouched for `leaseMs`) is abandoned, whoever wrote it;
 * - a file is claimed by renaming it to a name of the claimer's: rename is atomic, so of several
 *   processes sharing the directory exactly one gets it, and the others find it gone;
 * - a claimer holds the lease on what it claimed while replaying; if it dies, the file lapses again and
 *   another process claims it. A file is removed only once every record in it was delivered.
 * Should a writer stall past its lease and keep writing into a file already claimed, it notices (the
 * file's name no longer leads to its handle) and writes that batch again to a fresh file: a record may
 * then reach the queue twice, which the log writer absorbs (it skips ids already written).
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { TransactionRecord } from './record.js'

export interface SpoolOptions {
  /** How long an untouched file stays its writer's (or claimer's); default 10 s. */
  readonly leaseMs?: number
}

export class Spool {
  readonly dir: string
  /** This process's spool identity: random, so a restarted container (same PID, same host) is someone else. */
  readonly #id = randomBytes(8).toString('hex')
  readonly #leaseMs: number
  #file: { handle: FileHandle, path: string } | null = null
  #seq = 0
  #records = 0
  /** Files this process claimed and has not finished replaying (a replay interrupted by Redis going away). */
  readonly #claimed = new Set<string>()
  #lease: NodeJS.Timeout | null = null

  constructor (dataDir: string, opts: SpoolOptions = {}) {
    this.dir = join(dataDir, 'spool')
    this.#leaseMs = opts.leaseMs ?? 10_000
  }

  /** Records spooled by this process and not yet replayed. */
  get size (): number {
    return this.#records
  }

  #name (suffix: string): string {
    return join(this.dir, `${this.#id}-${Date.now()}-${++this.#seq}.${suffix}`)
  }

  async write (records: readonly TransactionRecord[]): Promise<void> {
    const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n'
    for (;;) {
      if (this.#file === null) {
        await mkdir(this.dir, { recursive: true })
        const path = this.#name('ndjson')
        this.#file = { handle: await open(path, 'a', 0o600), path }
        this.#holdLease()
      }
      const { handle, path } = this.#file
      await handle.write(text)
      await handle.datasync()
      if (await this.#stillMine(handle, path)) break
      // Claimed while this process stalled: the batch may not have been read, so it is written again.
      await handle.close().catch(() => {})
      this.#file = null
    }
    this.#records += records.length
  }

  async #stillMine (handle: FileHandle, path: string): Promise<boolean> {
    try {
      return (await stat(path)).ino === (await handle.stat()).ino
    } catch {
      return false
    }
  }

  /** Touches what this process holds: its open file and the files it is replaying. */
  #holdLease (): void {
    this.#lease ??= setInterval(() => {
      const now = new Date()
      if (this.#file !== null) void this.#file.handle.utimes(now, now).catch(() => {})
      for (const f of this.#claimed) void utimes(f, now, now).catch(() => {})
    }, Math.max(50, Math.floor(this.#leaseMs / 4))).unref()
  }

  #releaseLease (): void {
    if (this.#file !== null || this.#claimed.size > 0 || this.#lease === null) return
    clearInterval(this.#lease)
    this.#lease = null
  }

  /** Whether any spool file (this process's, or one another process may have left) is waiting. */
  async pending (): Promise<boolean> {
    if (this.#records > 0 || this.#claimed.size > 0) return true
    try {
      return (await readdir(this.dir)).some((f) => f.endsWith('.ndjson') || f.endsWith('.replaying'))
    } catch {
      return false
    }
  }

  /** Takes a file whose lease lapsed; null when it is still held, or another process took it first. */
  async #claim (file: string): Promise<string | null> {
    const path = join(this.dir, file)
    try {
      if (Date.now() - (await stat(path)).mtimeMs < this.#leaseMs) return null
      const mine = this.#name('replaying')
      await rename(path, mine)
      this.#claimed.add(mine)
      // Renaming keeps the old mtime: touch at once, or a third process could claim it from us.
      const now = new Date()
      await utimes(mine, now, now)
      this.#holdLease()
      return mine
    } catch {
      return null
    }
  }

  /**
   * Hands every spooled record to `deliver` in batches: this process's own, and those of files whose lease
   * lapsed (a previous container's, a crashed process's). A file is removed only after all of its records
   * were delivered. New writes go to a fresh file meanwhile.
   */
  async replay (deliver: (records: TransactionRecord[]) => Promise<void>, batch = 500): Promise<number> {
    if (this.#file !== null) {
      const { handle, path } = this.#file
      this.#file = null
      await handle.close()
      const mine = this.#name('replaying')
      await rename(path, mine)
      this.#claimed.add(mine)
      this.#records = 0
    }
    try {
      for (const f of (await readdir(this.dir)).sort()) {
        if (!(f.endsWith('.ndjson') || f.endsWith('.replaying'))) continue
        if (this.#claimed.has(join(this.dir, f))) continue
        await this.#claim(f)
      }
    } catch {
      // No spool directory: nothing was ever spooled here.
    }
    let delivered = 0
    for (const path of [...this.#claimed].sort()) {
      // A torn last line (a crash mid-write) was never acknowledged: its reply was not sent.
      const records = (await readFile(path, 'utf8')).split('\n').filter(Boolean).flatMap((l) => {
        try { return [JSON.parse(l) as TransactionRecord] } catch { return [] }
      })
      for (let i = 0; i < records.length; i += batch) await deliver(records.slice(i, i + batch))
      await rm(path)
      this.#claimed.delete(path)
      delivered += records.length
    }
    this.#releaseLease()
    return delivered
  }

  async close (): Promise<void> {
    await this.#file?.handle.close()
    this.#file = null
    this.#claimed.clear()
    this.#releaseLease()
  }
}
