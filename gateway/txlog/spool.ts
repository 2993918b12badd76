/**
 * The local spool: when the queue cannot take records (Redis down), they are appended to a file under
 * DATA_DIR and fsynced before the replies they belong to are sent; once the queue answers again they are
 * moved into it and the file is removed. Files left by a crashed process are picked up at the next start.
 */
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { TransactionRecord } from './record.js'

/** A spool file is another process's until that process is gone (same host, pid no longer alive). */
function writerGone (file: string): boolean {
  const m = /^(.*)-(\d+)-\d+\.ndjson$/.exec(file)
  if (m === null || m[1] !== hostname()) return false
  try {
    process.kill(Number(m[2]), 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

export class Spool {
  readonly dir: string
  readonly #name: string
  #file: FileHandle | null = null
  #records = 0

  constructor (dataDir: string) {
    this.dir = join(dataDir, 'spool')
    this.#name = `${hostname()}-${process.pid}-${Date.now()}`
  }

  /** Records spooled by this process and not yet replayed. */
  get size (): number {
    return this.#records
  }

  async write (records: readonly TransactionRecord[]): Promise<void> {
    if (this.#file === null) {
      await mkdir(this.dir, { recursive: true })
      this.#file = await open(join(this.dir, `${this.#name}.ndjson`), 'a', 0o600)
    }
    await this.#file.write(records.map((r) => JSON.stringify(r)).join('\n') + '\n')
    await this.#file.datasync()
    this.#records += records.length
  }

  /** Whether any spool file (this process's or a crashed one's) is waiting. */
  async pending (): Promise<boolean> {
    if (this.#records > 0) return true
    try {
      return (await readdir(this.dir)).some((f) => f.endsWith('.ndjson') || f.endsWith('.replaying'))
    } catch {
      return false
    }
  }

  /**
   * Hands every spooled record to `deliver` in batches; a file is removed only after all of its records
   * were delivered. New writes go to a fresh file meanwhile.
   */
  async replay (deliver: (records: TransactionRecord[]) => Promise<void>, batch = 500): Promise<number> {
    if (this.#file !== null) {
      await this.#file.close()
      this.#file = null
      await rename(join(this.dir, `${this.#name}.ndjson`), join(this.dir, `${this.#name}.${Date.now()}.replaying`)).catch(() => {})
      this.#records = 0
    }
    let files: string[]
    try {
      files = (await readdir(this.dir)).filter((f) => f.endsWith('.replaying') || (f.endsWith('.ndjson') && !f.startsWith(this.#name) && writerGone(f)))
    } catch {
      return 0
    }
    let delivered = 0
    for (const f of files.sort()) {
      const path = join(this.dir, f)
      // A torn last line (a crash mid-write) was never acknowledged: its reply was not sent.
      const records = (await readFile(path, 'utf8')).split('\n').filter(Boolean).flatMap((l) => {
        try { return [JSON.parse(l) as TransactionRecord] } catch { return [] }
      })
      for (let i = 0; i < records.length; i += batch) await deliver(records.slice(i, i + batch))
      await rm(path)
      delivered += records.length
    }
    return delivered
  }

  async close (): Promise<void> {
    await this.#file?.close()
    this.#file = null
  }
}
