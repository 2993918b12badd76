/**
 * What can be checked about the container files without a Docker daemon: every path the Dockerfile copies
 * exists and is in the build context; every command the image and compose.yaml run exists; images are
 * pinned to exact versions; the gateway is scaled behind the load balancer with no host port of its own;
 * every service has a healthcheck; configuration is mounted, not baked in, and the mounted default has no
 * demo agencies; ports and environment agree between compose.yaml, HAProxy, the image and the README.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'yaml'
import { loadConfig } from '../../gateway/config/load-config.js'
import { demoAgencies } from '../../gateway/ops/demo-keys.js'
import { projectPath } from '../../core/paths.js'
import { demoSecrets } from '../../gateway/server.js'
import { generateAgencyKey } from '../../sdk/index.js'
import { tempDir } from '../helpers/txlog.js'

const read = (...p: string[]): Promise<string> => readFile(projectPath(...p), 'utf8')

interface Service {
  image?: string
  build?: unknown
  command?: string[]
  ports?: string[]
  expose?: string[]
  volumes?: string[]
  environment?: Record<string, string>
  healthcheck?: { test?: string[], disable?: boolean }
  deploy?: { replicas?: number }
}

async function compose (): Promise<{ services: Record<string, Service> }> {
  return parse(await read('compose.yaml'), { merge: true }) as { services: Record<string, Service> }
}

/** `.dockerignore` entries are top-level names here: is `path` excluded from the build context? */
async function ignored (path: string): Promise<boolean> {
  const entries = (await read('.dockerignore'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
  return entries.some((e) => path === e || path.startsWith(`${e}/`))
}

t.test('every path the Dockerfile copies exists and is in the build context', async (t) => {
  const dockerfile = await read('Dockerfile')
  const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => (m[1] as string).trim().split(/\s+/).slice(0, -1)).flat()
  t.ok(copies.length >= 10, `${copies.length} sources copied`)
  for (const src of copies) {
    t.ok(existsSync(projectPath(src)), `${src} exists`)
    t.notOk(await ignored(src), `${src} is not excluded by .dockerignore`)
  }
  t.notOk(copies.some((c) => c === 'config' || c.startsWith('config/')), 'configuration is not baked into the image')
  t.ok(await ignored('demo') && await ignored('config'), 'demo keys and configuration stay out of the build context')
  for (const [, script] of dockerfile.matchAll(/"node", "(bin\/[a-z-]+\.js)"/g)) t.ok(existsSync(projectPath(script as string)), `${script as string} (run by the image) exists`)
})

t.test('images are pinned to exact versions, and the image runs the Node that CI tests', async (t) => {
  const dockerfile = await read('Dockerfile')
  const node = /^ARG NODE_IMAGE=node:(\d+)\.(\d+)\.(\d+)-bookworm-slim$/m.exec(dockerfile)
  t.ok(node !== null, 'the Node image names a release')
  t.equal(node?.[1], '24', 'Node 24 LTS')
  t.match(await read('.ci', 'run'), /NDX_CI_NODE:-24\}/, 'CI runs the suite on Node 24 by default')
  const engines = (JSON.parse(await read('package.json')) as { engines: { node: string } }).engines.node
  t.equal(engines, '>=22.12.0', 'engines: Node 22 (still supported) and 24')
  for (const [name, s] of Object.entries((await compose()).services)) {
    // PostgreSQL releases are major.minor (17.7); everything else here is major.minor.patch.
    const exact = name === 'postgres' ? /^postgres:\d+\.\d+-alpine$/ : /^[a-z0-9./-]+:\d+\.\d+\.\d+(-[a-z0-9.]+)?$/
    t.match(s.image, exact, `${name}: ${s.image ?? '(none)'} is an exact version`)
  }
})

t.test('compose: N gateway replicas behind a load balancer, every service with a healthcheck', async (t) => {
  const { services } = await compose()
  const { gateway, lb, worker } = services as Record<string, Service>
  t.ok(gateway !== undefined && lb !== undefined && worker !== undefined)
  t.equal(gateway?.ports, undefined, 'the scaled gateway pins no host port')
  t.ok((gateway?.deploy?.replicas ?? 0) >= 2, 'several replicas by default')
  t.same(
    Object.entries(services)
      .filter(([, s]) => s.ports !== undefined)
      .map(([n]) => n),
    ['lb'],
    'only the load balancer is published'
  )
  t.match(lb?.ports?.[0], /:8080$/, 'the load balancer listens on 8080 inside')
  for (const [name, s] of Object.entries(services)) {
    t.ok(s.healthcheck?.test !== undefined && s.healthcheck.disable !== true, `${name} has a healthcheck`)
    const cmd = [...(s.command ?? []), ...(s.healthcheck?.test ?? [])]
    for (const arg of cmd.filter((a) => /^bin\/.+\.js$/.test(a))) t.ok(existsSync(projectPath(arg)), `${name}: ${arg} exists`)
  }
  t.same(
    worker?.healthcheck?.test,
    ['CMD', 'node', 'bin/healthcheck.js', 'worker'],
    'the worker has a real healthcheck'
  )
  t.equal(gateway?.environment?.NDX_WORKER, 'false', 'the worker service drains the queue')
  t.ok(
    gateway?.volumes?.some((v) => v.endsWith(':/app/data')),
    'replicas share a data volume: spooled records outlive a container'
  )
})

t.test('the load balancer finds every replica on the port the gateway listens on', async (t) => {
  const haproxy = await read('deploy', 'haproxy', 'haproxy.cfg')
  t.match(haproxy, /^\s*bind :8080$/m)
  t.match(haproxy, /server-template \S+ \d+ gateway:8080/, 'replicas by service name and port')
  t.match(haproxy, /http-check send meth GET uri \/health\/ready/, 'routes to ready replicas')
  t.match(haproxy, /use_backend ready if \{ nbsrv\(ready\) gt 0 \}\n\s*default_backend live/, 'or, none ready, to live ones')
  t.match(haproxy, /http-check send meth GET uri \/health\/live/)
  t.match(await read('Dockerfile'), /ENV HOST=0\.0\.0\.0 PORT=8080/, 'the image listens on 8080')
  const errorfile = /errorfile 503 \/usr\/local\/etc\/haproxy\/(\S+)/.exec(haproxy)?.[1] as string
  const page = await read('deploy', 'haproxy', errorfile)
  t.match(page, /Content-Type: application\/problem\+json/)
  t.match(page, /Retry-After: \d+/)
  t.equal(
    JSON.parse(page.slice(page.indexOf('\r\n\r\n') + 4)).code,
    'gateway.unavailable',
    'even the balancer answers problem+json'
  )
})

t.test(
  'configuration is mounted from deploy/config: it loads with the .env secrets and has no demo agency',
  async (t) => {
    const { services } = await compose()
    const mount = services.gateway?.volumes?.find((v) => v.endsWith(':/app/config:ro')) as string
    t.equal(mount, '${NDX_CONFIG_DIR:-./deploy/config}:/app/config:ro', 'mounted read-only, so edit-and-reload works')
    for (const s of ['gateway', 'worker']) {
      t.ok(services[s]?.volumes?.includes(mount), `${s} reads the same directory`)
    }
    for (const file of ['business-registry.yaml', 'civil-status.yaml', 'population.yaml']) {
      // The editor's schema line points at the same schemas from one folder deeper; the rest is identical.
      const body = (text: string): string => text.replace(/^# yaml-language-server: .*\n/, '')
      t.equal(
        body(await read('deploy', 'config', 'adapters', file)),
        body(await read('config', 'adapters', file)),
        `adapters/${file} is the demo's own`
      )
    }
    const dir = projectPath('deploy', 'config')
    const refused = await loadConfig(dir, {}).then(
      () => null,
      (err: { issues?: Array<{ reason: string }> }) => err.issues ?? []
    )
    t.ok(
      refused?.some((i) => /NDX_PSEUDONYM_KEY is not set/.test(i.reason)),
      'no secret has a demo default: refused without .env'
    )
    const key = await tempDir(t)
    await writeFile(join(key, 'checkpoint.jwk.json'), JSON.stringify((await generateAgencyKey('gw-1')).privateJwk))
    const config = await loadConfig(dir, {
      NDX_PSEUDONYM_KEY: 'p'.repeat(40),
      NDX_CACHE_KEY_ID: 'k1',
      NDX_CACHE_KEY: Buffer.alloc(32, 7).toString('base64'),
      NDX_CHECKPOINT_KEY_FILE: join(key, 'checkpoint.jwk.json'),
    })
    t.same(Object.keys(config.agencies), [], 'no agency ships')
    t.same(await demoAgencies(config), [])
    t.same(demoSecrets(config), [])
  }
)

t.test('the .env compose needs, and the ports, agree with deploy/compose.env.example and the README', async (t) => {
  const text = await read('compose.yaml')
  const required = [...new Set([...text.matchAll(/\$\{([A-Z_]+):\?/g)].map((m) => m[1] as string))]
  const secrets = ['NDX_PSEUDONYM_KEY', 'NDX_CACHE_KEY_ID', 'NDX_CACHE_KEY']
  const example = await read('deploy', 'compose.env.example')
  const readme = await read('README.md')
  for (const name of [...required, ...secrets]) {
    t.match(example, new RegExp(`^${name}=`, 'm'), `${name} is in compose.env.example`)
    t.match(readme, new RegExp(`\`${name}\``), `${name} is in the README`)
  }
  t.match(readme, /--scale gateway=/, 'the README shows how to scale')
  t.match(readme, /http:\/\/localhost:8080/, 'and where the load balancer answers')
})
