/**
 * The TypeScript SDK is a package an agency can install: a package.json with name, exports and types, a
 * README, and a build whose entry points exist and export the client and the signing functions.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { pathToFileURL } from 'node:url'
import { projectPath } from '../../core/paths.js'

const run = promisify(execFile)

t.test('sdk/package.json is publishable: name, version, exports with types, files', async (t) => {
  const pkg = JSON.parse(readFileSync(projectPath('sdk', 'package.json'), 'utf8')) as Record<string, any>
  const root = JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as Record<string, any>
  t.equal(pkg.name, '@ndx-gateway/sdk')
  t.notOk(pkg.private, 'not private')
  t.equal(pkg.type, 'module')
  t.match(pkg.exports['.'], { types: './dist/index.d.ts', import: './dist/index.js' })
  t.equal(pkg.types, './dist/index.d.ts')
  t.same(pkg.files, ['dist/', 'README.md'])
  for (const dep of Object.keys(pkg.dependencies)) {
    t.equal(pkg.dependencies[dep], root.dependencies[dep], `${dep}: the version the gateway is tested with`)
  }
  t.match(readFileSync(projectPath('sdk', 'README.md'), 'utf8'), /import \{ NdxClient, signerFromFile \} from '@ndx-gateway\/sdk'/)
})

t.test('the package builds, and its exports resolve to the client, the signer and their types', async (t) => {
  // Built outside the project (a copy of what `npm pack` would ship): the build is not this suite's source,
  // and coverage counts every file of the project a test process loads.
  const out = await mkdtemp(join(tmpdir(), 'ndx-sdk-'))
  t.teardown(() => rm(out, { recursive: true, force: true }))
  await run(
    process.execPath,
    [
      projectPath('node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      projectPath('sdk', 'tsconfig.json'),
      '--outDir',
      join(out, 'dist'),
    ],
    { cwd: projectPath('sdk') }
  )
  await cp(projectPath('sdk', 'package.json'), join(out, 'package.json'))
  // Its dependencies, as an install would provide them (the versions are checked equal to the gateway's).
  await symlink(projectPath('node_modules'), join(out, 'node_modules'), 'dir')
  const pkg = JSON.parse(readFileSync(join(out, 'package.json'), 'utf8')) as {
    exports: { '.': { types: string; import: string } }
  }
  const types = join(out, pkg.exports['.'].types)
  t.ok(existsSync(types), 'the types entry exists')
  t.match(readFileSync(types, 'utf8'), /NdxClient[\s\S]*signRequest[\s\S]*SigningAlgorithm/)
  // Imported in a plain node process (no coverage hooks): the built files are not this suite's sources.
  const url = pathToFileURL(join(out, pkg.exports['.'].import)).href
  const probe = `const m = await import(${JSON.stringify(url)}); ` +
    'console.log(JSON.stringify({ names: Object.keys(m), empty: m.bodyHash() }))'
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], {
    env: { PATH: process.env.PATH ?? '' },
  })
  const { names, empty } = JSON.parse(stdout) as { names: string[], empty: string }
  for (const name of [
    'NdxClient',
    'signRequest',
    'bodyHash',
    'signerFromJwk',
    'signerFromFile',
    'generateAgencyKey',
    'EMPTY_BODY_HASH',
  ]) {
    t.ok(names.includes(name), `exports ${name}`)
  }
  t.equal(empty, '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU')
})
