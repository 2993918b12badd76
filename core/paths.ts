/**
 * Where the project's data files are, whether the code runs from sources (tsx, tap) or from `dist/`.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!(existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schemas')))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('cannot find the project root')
    dir = parent
  }
  return dir
}

/** The project root: the folder holding package.json, schemas/, config/ and simulators/. */
export const PROJECT_ROOT = findRoot()

export function projectPath (...parts: string[]): string {
  return join(PROJECT_ROOT, ...parts)
}
