import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { GenesysSimulator, MetaSimulator, MetaTemplateOptions } from '@bridge/simulators';
import { API_KEY_SCOPES } from '@bridge/shared';

/** A tenant with everything the bridge needs: its Meta number, WABA and app, its Genesys org and integration. */
export interface BridgeTenant {
  tenantId: string;
  phoneNumberId: string;
  /** The WhatsApp Business Account the number belongs to: its template catalogue, and what Meta's template webhooks name. */
  wabaId: string;
  appSecret: string;
  verifyToken: string;
  accessToken: string;
  clientId: string;
  clientSecret: string;
  integrationId: string;
  webhookSecret: string;
}

/** A template of the tenant's WABA, as `onboardBridgeTenant` adds it to the Meta simulator. */
export type BridgeTemplate = Omit<MetaTemplateOptions, 'wabaId'>;

/** Fresh random credentials for a tenant (for demos, soaks and tests); a random 15-digit WABA id unless given. */
export function newBridgeTenant(tenantId: string, phoneNumberId: string, overrides: Partial<BridgeTenant> = {}): BridgeTenant {
  const secret = () => randomBytes(16).toString('hex');
  return {
    tenantId,
    phoneNumberId,
    wabaId: `1${String(randomInt(2 ** 47)).padStart(14, '0')}`,
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
 * Onboards a tenant as an admin would (admin API: tenant, Meta credentials naming its WABA, Genesys
 * credentials) and registers its number (in its WABA, with `templates` in that WABA's catalogue)
 * and its org with the simulators. The simulators are set up before the credentials are stored,
 * so the template sync tenant-service starts in the background on storing them finds the
 * catalogue complete (it is not awaited: read GET /templates to know it is done). Returns the
 * tenant's first API key.
 */
export async function onboardBridgeTenant(o: {
  adminUrl: string;
  adminKey: string;
  meta: MetaSimulator;
  genesys: GenesysSimulator;
  tenant: BridgeTenant;
  /** Extra fields for POST /tenants (name, rateLimit, …). */
  tenantFields?: Record<string, unknown>;
  /** Templates of the tenant's WABA at Meta (the simulator); default none. */
  templates?: BridgeTemplate[];
}): Promise<{ apiKey: string }> {
  const t = o.tenant;
  o.meta.addNumber({ phoneNumberId: t.phoneNumberId, accessToken: t.accessToken, wabaId: t.wabaId });
  for (const template of o.templates ?? []) o.meta.addTemplate({ ...template, wabaId: t.wabaId });
  o.genesys.addOrg({ clientId: t.clientId, clientSecret: t.clientSecret, integrationId: t.integrationId });
  // The tenant's key may do everything the tenant API offers (a key created without scopes could only read).
  const created = await adminPost(o.adminUrl, o.adminKey, '/tenants', { tenantId: t.tenantId, name: t.tenantId, apiKeyScopes: [...API_KEY_SCOPES], ...o.tenantFields });
  await adminPost(o.adminUrl, o.adminKey, `/tenants/${t.tenantId}/credentials`, {
    type: 'meta',
    credentials: { appSecret: t.appSecret, verifyToken: t.verifyToken, accessToken: t.accessToken, phoneNumberId: t.phoneNumberId, wabaId: t.wabaId },
  });
  await adminPost(o.adminUrl, o.adminKey, `/tenants/${t.tenantId}/credentials`, {
    type: 'genesys',
    credentials: { clientId: t.clientId, clientSecret: t.clientSecret, region: 'mypurecloud.ie', integrationId: t.integrationId, webhookSecret: t.webhookSecret },
  });
  return { apiKey: created.apiKey as string };
}
