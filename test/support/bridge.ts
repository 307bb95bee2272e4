import { startGenesysSimulator, startMetaSimulator, type GenesysSimulator, type MetaSimulator } from '@bridge/simulators';
import { newBridgeTenant, onboardBridgeTenant, type BridgeTemplate, type BridgeTenant as BaseBridgeTenant } from '../../scripts/src/bridge-tenant';
import { startTestSystem, type TestSystem } from './system';
import { uniqueNumericId, uniqueTenantId } from './ids';

import { eventually } from './eventually';

export { eventually };

/** A tenant onboarded end to end: its Meta number and Genesys org exist in the simulators too. */
export interface BridgeTenant extends BaseBridgeTenant {
  apiKey: string;
}

export interface Bridge {
  sys: TestSystem;
  meta: MetaSimulator;
  genesys: GenesysSimulator;
  /**
   * A tenant onboarded through the admin API, its number in its own WABA at the Meta simulator.
   * With `templates`, that WABA's catalogue at Meta: resolves once tenant-service's background
   * sync has stored them all in the tenant's catalogue.
   */
  onboard(overrides?: Partial<BaseBridgeTenant> & { rateLimit?: number; templates?: BridgeTemplate[] }): Promise<BridgeTenant>;
  stop(): Promise<void>;
}

/** Delivery settings that make retries take milliseconds instead of seconds. */
export const FAST_DELIVERY = {
  DELIVERY_RETRY_BASE_MS: '20',
  DELIVERY_RETRY_MAX_MS: '200',
  DELIVERY_POLL_MS: '50',
  BREAKER_RESET_MS: '300',
  DELIVERY_LEASE_MS: '5000',
  HTTP_TIMEOUT_MS: '2000',
};

/**
 * The whole platform with both simulators, configured as a deployment would be: Meta's Graph API
 * and Genesys Cloud are the simulators' URLs.
 */
export async function startBridge(options: { redis?: boolean; env?: Record<string, string>; only?: NonNullable<Parameters<typeof startTestSystem>[0]>['only'] } = {}): Promise<Bridge> {
  const meta = await startMetaSimulator({ retryDelayMs: 20 });
  const genesys = await startGenesysSimulator({ retryDelayMs: 20 });
  const sys = await startTestSystem({
    redis: options.redis,
    only: options.only,
    env: {
      META_GRAPH_URL: meta.graphUrl,
      // The simulator's media download URLs are http://127.0.0.1:<port>/...
      MEDIA_DOWNLOAD_HOSTS: '127.0.0.1',
      GENESYS_API_URL: genesys.url,
      GENESYS_LOGIN_URL: genesys.url,
      PUBLIC_BASE_URL: 'http://bridge.test:3000',
      ...FAST_DELIVERY,
      ...options.env,
    },
  });
  return {
    sys,
    meta,
    genesys,
    async onboard(overrides = {}) {
      const { rateLimit, templates, ...fields } = overrides;
      const tenant = newBridgeTenant(uniqueTenantId('bridge'), uniqueNumericId(), fields);
      const { apiKey } = await onboardBridgeTenant({
        adminUrl: sys.urls['tenant-service'],
        adminKey: sys.adminApiKey,
        meta,
        genesys,
        tenant,
        tenantFields: rateLimit ? { rateLimit } : {},
        templates,
      });
      if (templates?.length) {
        await eventually(
          async () => ((await sys.admin('get', `/tenants/${tenant.tenantId}/templates`)).body.templates?.length ?? 0) === templates.length,
          10_000,
          `the catalogue of ${tenant.tenantId} synced`,
        );
      }
      return { ...tenant, apiKey };
    },
    async stop() {
      await sys.stop();
      await Promise.allSettled([meta.close(), genesys.close()]);
    },
  };
}
