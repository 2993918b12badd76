/**
 * The standalone replay guard's memory on disk (`DATA_DIR/replay/jti.log`), so a restart does not reopen
 * the jtis it had seen (CONTRACT §3 v1.1). One line per pair, `<until ms>\t<iss>\t<jti>`, appended with a
 * synchronous write before the verdict is given: once the reply leaves, the line is in the file (in the
 * page cache, which survives a crash of the process; a crash of the machine may lose the last lines).
 * The file is rewritten from the live pairs when expired lines outnumber them, and read back at start.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { MemoryReplayGuard, type ReplayJournal } from './replay-guard.js'

const FILE = 'jti.log'
/** Rewrite once the file holds this many lines more than twice the live pairs. */
const COMPACT_SLACK = 10_000

export class FileReplayJournal implements ReplayJournal {
  readonly #dir: string
  #fd: number
  #lines: number

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
    const journal = new FileReplayJournal(dir, rewrite(dir, entries), entries.size)
    return { journal, entries }
  }

  add (key: string, until: number): void {
    writeSync(this.#fd, `${until}\t${key.replace('\0', '\t')}\n`)
    this.#lines++
  }

  compact (live: ReadonlyMap<string, number>): void {
    if (this.#lines <= live.size * 2 + COMPACT_SLACK) return
    const fd = rewrite(this.#dir, live)
    closeSync(this.#fd)
    this.#fd = fd
    this.#lines = live.size
  }

  close (): void {
    try {
      fsyncSync(this.#fd)
    } finally {
      closeSync(this.#fd)
    }
  }
}

/** Writes the live pairs to a new file, swaps it in atomically and returns it opened for appending. */
function rewrite (dir: string, live: ReadonlyMap<string, number>): number {
  const tmp = join(dir, `${FILE}.tmp`)
  const fd = openSync(tmp, 'w', 0o600)
  try {
    let chunk = ''
    for (const [key, until] of live) {
      chunk += `${until}\t${key.replace('\0', '\t')}\n`
      if (chunk.length > 65_536) { writeSync(fd, chunk); chunk = '' }
    }
    if (chunk !== '') writeSync(fd, chunk)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, join(dir, FILE))
  return openSync(join(dir, FILE), 'a', 0o600)
}

/** The standalone guard: in process, journalled under `dir` so a restart remembers. */
export function persistentReplayGuard (dir: string, sweepMs?: number): MemoryReplayGuard {
  const { journal, entries } = FileReplayJournal.open(dir)
  return new MemoryReplayGuard(sweepMs, journal, entries)
}
