/**
 * The standalone replay guard's memory on disk (`DATA_DIR/replay/jti.log`), so a restart does not reopen
 * the jtis it had seen (CONTRACT §3 v1.1). One line per pair, `<until ms>\t<iss>\t<jti>`, appended with a
 * synchronous write before the verdict is given: once the reply leaves, the line is in the file (in the
 * page cache, which survives a crash of the process; a crash of the machine may lose the last lines).
 * The file is rewritten from the live pairs when expired lines outnumber them (without blocking the event
 * loop), and read back at start.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { MemoryReplayGuard, type RedisGuardDisk, type ReplayJournal } from './replay-guard.js'

const FILE = 'jti.log'
const TMP = 'jti.log.tmp'
/** Rewrite once the file holds this many lines more than twice the live pairs. */
const COMPACT_SLACK = 10_000

export class FileReplayJournal implements ReplayJournal {
  readonly #dir: string
  #fd: number
  #lines: number
  /** While a compaction writes the snapshot: lines appended since, to be carried over to the new file. */
  #since: string[] | null = null
  #closed = false

  private constructor (dir: string, fd: number, lines: number) {
    this.#dir = dir
    this.#fd = fd
    this.#lines = lines
  }

  /** Opens (or creates) the journal in `dir` and reads back the pairs still to be remembered. */
  static open (dir: string, now = Date.now()): { journal: FileReplayJournal, entries: Map<string, number> } {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const entries = new Map<string, number>()
    let text = ''
    try {
      text = readFileSync(join(dir, FILE), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    for (const line of text.split('\n')) {
      const [until, iss, jti, extra] = line.split('\t')
      const t = Number(until)
      // A torn last line (crash mid-write) or anything else unreadable is skipped, not fatal.
      if (iss === undefined || jti === undefined || extra !== undefined || !Number.isFinite(t) || t <= now) continue
      const key = `${iss}\0${jti}`
      if ((entries.get(key) ?? 0) < t) entries.set(key, t)
    }
    writeSnapshotSync(join(dir, TMP), entries)
    renameSync(join(dir, TMP), join(dir, FILE))
    const journal = new FileReplayJournal(dir, openSync(join(dir, FILE), 'a', 0o600), entries.size)
    return { journal, entries }
  }

  add (key: string, until: number): void {
    const line = lineOf(key, until)
    writeSync(this.#fd, line)
    this.#since?.push(line)
    this.#lines++
  }

  /**
   * Rewrites the file from the live pairs once expired lines outnumber them. The snapshot is written off the
   * event loop; only the lines added meanwhile are copied, and the file swapped, synchronously.
   */
  compact (live: ReadonlyMap<string, number>): void {
    if (this.#since !== null || this.#closed || this.#lines <= live.size * 2 + COMPACT_SLACK) return
    this.#since = []
    void this.#rewrite([...live]).catch(() => { this.#since = null })
  }

  /** Resolves when no compaction is running. */
  async idle (): Promise<void> {
    while (this.#since !== null) await new Promise((resolve) => setTimeout(resolve, 5))
  }

  async #rewrite (snapshot: Array<[string, number]>): Promise<void> {
    const tmp = join(this.#dir, TMP)
    const handle = await open(tmp, 'w', 0o600)
    try {
      for (let i = 0; i < snapshot.length; i += 2000) {
        await handle.write(snapshot.slice(i, i + 2000).map(([key, until]) => lineOf(key, until)).join(''))
      }
      await handle.sync()
    } finally {
      await handle.close()
    }
    if (this.#closed) return
    const since = this.#since ?? []
    const fd = openSync(tmp, 'a', 0o600)
    try {
      if (since.length > 0) writeSync(fd, since.join(''))
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, join(this.#dir, FILE))
    closeSync(this.#fd)
    this.#fd = openSync(join(this.#dir, FILE), 'a', 0o600)
    this.#lines = snapshot.length + since.length
    this.#since = null
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    try {
      fsyncSync(this.#fd)
    } finally {
      closeSync(this.#fd)
    }
  }
}

function lineOf (key: string, until: number): string {
  return `${until}\t${key.replace('\0', '\t')}\n`
}

/** At start only: the live pairs to a new file, synchronously. */
function writeSnapshotSync (path: string, live: ReadonlyMap<string, number>): void {
  const fd = openSync(path, 'w', 0o600)
  try {
    let chunk = ''
    for (const [key, until] of live) {
      chunk += lineOf(key, until)
      if (chunk.length > 65_536) { writeSync(fd, chunk); chunk = '' }
    }
    if (chunk !== '') writeSync(fd, chunk)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** The standalone guard: in process, journalled under `dir` so a restart remembers. */
export function persistentReplayGuard (dir: string, sweepMs?: number): MemoryReplayGuard {
  const { journal, entries } = FileReplayJournal.open(dir)
  return new MemoryReplayGuard(sweepMs, journal, entries)
}

/**
 * The Redis guard's memory on disk (`dir`, e.g. `DATA_DIR/replay/redis`): the jtis it guarded alone while
 * Redis was away (same format as the standalone journal, written only then), and the Redis generation it
 * saw last (`epoch`), so a restart still notices that Redis lost its state meanwhile.
 */
export function redisGuardDisk (dir: string): RedisGuardDisk {
  const { journal, entries } = FileReplayJournal.open(dir)
  const file = join(dir, 'epoch')
  let epoch: string | null = null
  try {
    epoch = readFileSync(file, 'utf8').trim() || null
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  return {
    journal,
    entries,
    epoch,
    saveEpoch (value: string): void {
      // Rare (a new Redis generation): written whole, then swapped, so a crash leaves the old or the new.
      writeFileSync(`${file}.tmp`, value, { mode: 0o600 })
      renameSync(`${file}.tmp`, file)
    },
  }
}
