/**
 * The demo agencies' keys are public: their private halves are in this repository (demo/keys), so anyone
 * can sign as them — as an auditor or an administrator too. A gateway that loads any of them says so loudly
 * at startup. They are known here by JWK thumbprint (RFC 7638), as demo/ is not shipped in the image;
 * test/ops/demo-keys.test.ts keeps this list equal to demo/keys.
 */
import { calculateJwkThumbprint } from 'jose'
import type { GatewayConfig } from '../../core/config-types.js'

export const DEMO_KEY_THUMBPRINTS: ReadonlySet<string> = new Set([
  'hgIXqo5LkY0BCgTRpMw4ETNHCrWXlE1LxH6tp02lero', // VN.BCA.C06
  'Qjx6LkHe2lJbmV7Ryxbs_qfmQYL21EILDK-ACi4s1mo', // VN.BHXH
  'AZ_HKfwPHa4cyg3FqHjqBkUHwNTWI36CkcltxX57F7E', // VN.BTP.HT
  'o6gzFYk4G0pUycYUGXYUfyDVQqWDY3QmasOq5RRC7es', // VN.EVN.HCMC
  'p9pGoJMdZjxQtTsAVPmXX8NCiBJRiPCtWvaBEaq4meM', // VN.LOC.DNG
  'Ec7B1RTLBvpBU54yIp3jbgep4BSkof0MrcZWFzu44es', // VN.NDXP.OPS (admin)
  'tqweB9RUMatgO9PHV15D8eMiD5W5-uykgPvy8WP7CaU', // VN.TTCP (auditor)
  '8GqMsIuKOCazn7J2HvDMrnZgdF5R6gh24OL1FewpMoQ', // VN.VIETTEL
])

/** The agencies of this configuration that trust a demo key, with their roles. */
export async function demoAgencies (config: GatewayConfig): Promise<Array<{ id: string, roles: readonly string[] }>> {
  const found: Array<{ id: string, roles: readonly string[] }> = []
  for (const agency of Object.values(config.agencies)) {
    for (const key of agency.keys) {
      const thumbprint = await calculateJwkThumbprint(key.jwk).catch(() => null)
      if (thumbprint !== null && DEMO_KEY_THUMBPRINTS.has(thumbprint)) {
        found.push({ id: agency.id, roles: agency.roles })
        break
      }
    }
  }
  return found
}
