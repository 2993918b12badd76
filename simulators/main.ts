/** `npm run simulators`: the three registry simulators alone (ports 4101-4103 by default). */
import { readSimulatorEnvironment } from './env.js'
import { startSimulators } from './index.js'

const settings = readSimulatorEnvironment()
const sims = await startSimulators(settings)
process.stdout.write(
  JSON.stringify({
    msg: 'registry simulators listening',
    ...sims.env,
    latencyMs: settings.latencyMs,
    failRate: settings.failRate,
  }) + '\n'
)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void sims.close().then(() => process.exit(0))
  })
}
