import { randomBytes, randomUUID } from 'node:crypto';
import type { GenesysSimulator, MetaSimulator } from '@bridge/simulators';

/** A tenant with everything the bridge needs: its Meta number and app, its Genesys org and integration. */
export interface BridgeTenant {
  tenantId: string;
  phoneNumberId: string;
  appSecret: string;
  verifyToken: string;
  accessToken: string;
  clientId: string;
  clientSecret: string;
  integrationId: string;
  webhookSecret: string;
}

/** Fresh random credentials for a tenant (for demos, soaks and tests). */
export function newBridgeTenant(tenantId: string, phoneNumberId: string, overrides: Partial<BridgeTenant> = {}): BridgeTenant {
  const secret = () => randomBytes(16).toString('hex');
  return {
    tenantId,
    phoneNumberId,
    appSecret: secret(),
    verifyToken: secret(),
    accessToken: `EAAG${secret()}`,
    clientId: randomUUID(),
    clientSecret: secret(),
    integrationId: randomUUID(),
    webhookSecret: secret(),
    ...overrides,
  };
}

async function adminPost(adminUrl: string, adminKey: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${adminUrl}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new Error(`POST ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * Onboards a tenant as an admin would (admin API: tenant, Meta and Genesys credentials) and
 * registers its number and org with the simulators. Returns its first API key.
 */
export async function onboardBridgeTenant(o: {
  adminUrl: string;
  adminKey: string;
  meta: MetaSimulator;
  genesys: GenesysSimulator;
  tenant: BridgeTenant;
  /** Extra fields for POST /tenants (name, rateLimit, …). */
  tenantFields?: Record<string, unknown>;
}): Promise<{ apiKey: string }> {
  const t = o.tenant;
  const created = await adminPost(o.adminUrl, o.adminKey, '/tenants', { tenantId: t.tenantId, name: t.tenantId, ...o.tenantFields });
  await adminPost(o.adminUrl, o.adminKey, `/tenants/${t.tenantId}/credentials`, {
    type: 'meta',
    credentials: { appSecret: t.appSecret, verifyToken: t.verifyToken, accessToken: t.accessToken, phoneNumberId: t.phoneNumberId },
  });
  await adminPost(o.adminUrl, o.adminKey, `/tenants/${t.tenantId}/credentials`, {
    type: 'genesys',
    credentials: { clientId: t.clientId, clientSecret: t.clientSecret, region: 'mypurecloud.ie', integrationId: t.integrationId, webhookSecret: t.webhookSecret },
  });
  o.meta.addNumber({ phoneNumberId: t.phoneNumberId, accessToken: t.accessToken });
  o.genesys.addOrg({ clientId: t.clientId, clientSecret: t.clientSecret, integrationId: t.integrationId });
  return { apiKey: created.apiKey as string };
}
