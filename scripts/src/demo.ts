/**
 * `npm run demo`: the whole platform with local simulators of Meta's Graph API and Genesys Cloud,
 * a demo tenant onboarded through the admin API, one WhatsApp message in, one agent reply out,
 * the statuses back as receipts — printed as it flows. Stops by itself.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseEnv } from '@bridge/shared';
import { buildStatus, buildTextMessage, startGenesysSimulator, startMetaSimulator, wamidOf } from '@bridge/simulators';
import { newBridgeTenant, onboardBridgeTenant } from './bridge-tenant';
import { scriptsConfigSchema } from './config';
import { SERVICES, startSystem } from './system';

const out = (line = '') => process.stdout.write(`${line}\n`);
const step = (who: string, what: string) => out(`  ${new Date().toISOString().slice(11, 23)}  ${who.padEnd(22)} ${what}`);

async function until<T>(check: () => T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function api(method: string, url: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(url, { method, headers: { 'Content-Type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function main() {
  const config = parseEnv(scriptsConfigSchema);
  const meta = await startMetaSimulator({ retryDelayMs: 50 });
  const genesys = await startGenesysSimulator({ retryDelayMs: 50 });
  const dataDir = config.DATABASE_URL ? undefined : mkdtempSync(path.join(os.tmpdir(), 'bridge-demo-'));
  // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data folder.
  if (dataDir) chmodSync(dataDir, 0o755);
  out('Starting the platform (PostgreSQL, migrations, six services) with the Meta and Genesys simulators…');
  const system = await startSystem({
    dataDir: dataDir ?? path.join(os.tmpdir(), `bridge-demo-secrets-${process.pid}`),
    ports: Object.fromEntries(SERVICES.map((s) => [s.name, 0])),
    internalPorts: Object.fromEntries(SERVICES.map((s) => [s.name, 0])),
    // The services' own environment, simulators in place of Meta and Genesys.
    env: {
      LOG_LEVEL: 'silent',
      ...process.env,
      META_GRAPH_URL: meta.graphUrl,
      // The simulator's media download URLs are http://127.0.0.1:<port>/...
      MEDIA_DOWNLOAD_HOSTS: '127.0.0.1',
      GENESYS_API_URL: genesys.url,
      GENESYS_LOGIN_URL: genesys.url,
      DELIVERY_POLL_MS: '50',
    },
  });
  const gateway = system.urls.gateway;
  try {
    out(`Gateway ${gateway}, admin API ${system.urls['tenant-service']}`);
    out();
    const tenant = newBridgeTenant(`demo-${randomBytes(3).toString('hex')}`, '106540352242922');
    const created = await onboardBridgeTenant({
      adminUrl: system.urls['tenant-service'],
      adminKey: system.adminApiKey,
      meta,
      genesys,
      tenant,
      tenantFields: { name: 'Demo Shop' },
    });
    step('admin', `onboarded tenant ${tenant.tenantId} (Meta number ${tenant.phoneNumberId}, Genesys integration ${tenant.integrationId.slice(0, 8)}…)`);
    out();

    const customer = { waId: '16505551234', name: 'Sheena Nelson' };
    const inbound = buildTextMessage({ phoneNumberId: tenant.phoneNumberId, from: customer.waId, profileName: customer.name, body: 'Hi! Does the jacket come in green? 🧥' });
    step(`WhatsApp ${customer.waId}`, '"Hi! Does the jacket come in green? 🧥"');
    const delivery = await meta.deliverWebhook({ url: `${gateway}/webhook/meta/${tenant.tenantId}`, payload: inbound, appSecret: tenant.appSecret });
    step('Meta → gateway', `webhook signed, answered ${delivery.statuses.join(', ')}`);
    const atGenesys = await until(() => genesys.messages(tenant.integrationId).find((m) => m.body.channel.messageId === wamidOf(inbound)), 'the message at Genesys');
    step('→ Genesys', `inbound message ${atGenesys.genesysMessageId?.slice(0, 8)}… in conversation ${atGenesys.conversationId?.slice(0, 8)}…, from "${atGenesys.body.channel.from.nickname}"`);
    out();

    const reply = await genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${tenant.tenantId}`, secret: tenant.webhookSecret, integrationId: tenant.integrationId, to: customer.waId, text: 'It does! Green and navy, all sizes. 🙂' });
    step('Genesys agent', `"It does! Green and navy, all sizes. 🙂" (webhook answered ${reply.statuses.join(', ')})`);
    const sent = await until(() => meta.sends(tenant.phoneNumberId).find((s) => s.body.to === customer.waId), 'the send at Meta');
    step('→ WhatsApp', `sent to ${sent.body.to} with the tenant's token, wamid ${sent.wamid.slice(0, 16)}…`);

    await new Promise((r) => setTimeout(r, 200));
    for (const status of ['delivered', 'read'] as const) {
      await meta.deliverWebhook({ url: `${gateway}/webhook/meta/${tenant.tenantId}`, payload: buildStatus({ phoneNumberId: tenant.phoneNumberId, wamid: sent.wamid, status, recipientId: customer.waId }), appSecret: tenant.appSecret });
      step(`WhatsApp ${customer.waId}`, `status "${status}"`);
    }
    await until(() => (genesys.receipts(tenant.integrationId).filter((r) => r.body.id === reply.id).length === 2 ? true : undefined), 'two receipts');
    step('→ Genesys', `receipts for the agent's message: ${genesys.receipts(tenant.integrationId).filter((r) => r.body.id === reply.id).map((r) => r.body.status).join(', ')}`);
    out();

    const stats = await api('GET', `${gateway}/state/stats`, undefined, { 'X-API-Key': created.apiKey });
    step('tenant API', `GET /state/stats → ${JSON.stringify(stats)}`);
    out();
    out('Done.');
  } finally {
    await system.stop();
    await Promise.allSettled([meta.close(), genesys.close()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`Demo failed: ${err.message}\n`);
    process.exit(1);
  },
);
