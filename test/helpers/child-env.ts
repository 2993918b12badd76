/**
 * The environment for a gateway, worker or CLI started as a child under tsx: the test's own, minus the
 * coverage hook. A tsx-compiled copy of the sources reports functions at other offsets than the suite's
 * own build, and merged into the suite's coverage it makes covered functions look uncovered.
 */
export function childEnv (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra }
  delete env.NODE_V8_COVERAGE
  return env
}
