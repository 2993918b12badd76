/**
 * Parses one configuration file (YAML or JSON) keeping where every value was written, so each issue can
 * say `file:line`. JSON is YAML 1.2, so one parser reads both.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLError } from 'yaml'

export interface SourceError { line: number | undefined, reason: string }

export interface ParsedSource {
  readonly data: unknown
  /** The line (1-based) of the member a JSON pointer names, or of its closest written ancestor. */
  line (pointer: string): number | undefined
}

function decodePointer (pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/** The parser's message without its "at line …, column …:" tail and code frame (the line is given apart). */
function reasonOf (err: YAMLError): string {
  const first = err.message.split('\n')[0] ?? err.message
  return first.replace(/ at line \d+, column \d+:?$/, '')
}

/** Parses `text`; YAML errors come back as issues with their line, never as a cut-off message. */
export function parseSource (text: string): ParsedSource | SourceError[] {
  const lines = new LineCounter()
  // Duplicate keys are an error, aliases are bounded (no billion laughs).
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, lineCounter: lines })
  // The parser's later errors mostly follow from its first (it lost its place): one mistake, one message.
  const first = doc.errors[0]
  if (first !== undefined) return [{ line: first.linePos?.[0].line, reason: `not valid YAML/JSON: ${reasonOf(first)}` }]
  let data: unknown
  try {
    data = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    return [{ line: undefined, reason: `not valid YAML/JSON: ${(err as Error).message.split('\n')[0] ?? ''}` }]
  }
  const lineAt = (node: Node | null | undefined): number | undefined =>
    node?.range == null ? undefined : lines.linePos(node.range[0]).line
  return {
    data,
    line (pointer) {
      let node: unknown = doc.contents
      let found = lineAt(doc.contents)
      for (const segment of decodePointer(pointer)) {
        if (isMap(node)) {
          const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === segment)
          if (pair === undefined) break
          found = lineAt(pair.key as Node) ?? found
          node = pair.value
        } else if (isSeq(node)) {
          const item = node.items[Number(segment)] as Node | undefined
          if (item === undefined) break
          found = lineAt(item) ?? found
          node = item
        } else {
          break
        }
      }
      return found
    },
  }
}
