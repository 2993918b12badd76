/**
 * The house's import rules, checked by `npm test` (`npm run depcheck`): arrows point down, never back up.
 *
 *   core/            errors, config types, paths, pseudonyms, ids: imports nothing of ours
 *   adapters/        the registries: core only
 *   gateway/process     the logger and the Redis connection: core only
 *   gateway/ services   config, auth, access, reuse, txlog, ops, runtime: core, adapters, each other
 *   gateway/pipeline    the request path: services below it
 *   gateway/ surfaces   builtins, batch, openapi, http, plugins: the request path and services
 *   gateway/ assembly   app.ts, compose.ts, server.ts, services.ts; gateway/main/ (entry points) on top
 *   sdk/ imports nothing of ours; simulators/ only core; cli/ and console/ use sdk, core and a few
 *   gateway parts, never the assembly.
 */
const SERVICES = '^gateway/(process|config|auth|access|reuse|txlog|ops|runtime)/'
const PIPELINE = '^gateway/pipeline/'
const SURFACES = '^gateway/(builtins|batch|openapi|http|plugins)/'
const ASSEMBLY = '^gateway/[^/]+[.]ts$'
const MAIN = '^gateway/main/'

const forbid = (name, comment, from, to) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: to },
})

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'files import each other', severity: 'error', from: {}, to: { circular: true } },
    forbid(
      'core-alone',
      'core/ imports nothing of ours',
      '^core/',
      '^(gateway|adapters|simulators|sdk|cli|console|bench)/'
    ),
    forbid(
      'adapters-on-core',
      'adapters/ depend on core/ only',
      '^adapters/',
      '^(gateway|simulators|sdk|cli|console|bench)/'
    ),
    forbid(
      'sdk-alone',
      'the SDK is a package of its own',
      '^sdk/',
      '^(core|gateway|adapters|simulators|cli|console|bench)/'
    ),
    forbid(
      'simulators-apart',
      'simulators stand in for other systems',
      '^simulators/',
      '^(gateway|adapters|sdk|cli|console|bench)/'
    ),
    forbid(
      'services-below-the-path',
      'services never import the request path or what serves it',
      SERVICES,
      `${PIPELINE}|${SURFACES}|${ASSEMBLY}|${MAIN}`
    ),
    forbid(
      'path-below-surfaces',
      'the request path never imports the routes and plugins that run it',
      PIPELINE,
      `${SURFACES}|${ASSEMBLY}|${MAIN}`
    ),
    forbid(
      'surfaces-below-assembly',
      'routes and plugins never import the assembly',
      SURFACES,
      `${ASSEMBLY}|${MAIN}`
    ),
    forbid('assembly-below-main', 'nothing but entry points imports an entry point', '^(?!gateway/main/)', MAIN),
    forbid(
      'log-below-ops',
      'metrics and health observe the log, never the other way',
      '^gateway/txlog/',
      '^gateway/ops/'
    ),
    forbid(
      'process-below-services',
      'the logger and Redis connection are what the services run on',
      '^gateway/process/',
      '^gateway/(?!process/)'
    ),
    forbid(
      'http-below-plugins',
      'plugins use the HTTP layer, never the other way',
      '^gateway/http/',
      '^gateway/plugins/'
    ),
    forbid('console-below-cli', 'the CLI starts the console, never the other way', '^console/', '^cli/'),
    forbid(
      'tools-not-assembly',
      'the CLI and console never assemble a gateway',
      '^(cli|console)/',
      `${ASSEMBLY}|${MAIN}`
    ),
    forbid(
      'no-tests-or-bench',
      'shipped code never imports tests or benchmarks',
      '^(core|gateway|adapters|sdk|simulators|cli|console)/',
      '^(test|bench)/'
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|coverage|sdk/dist)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6'],
  },
}
