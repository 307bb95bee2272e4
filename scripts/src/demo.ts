/**
 * `npm run demo`: the whole platform with local simulators of Meta's Graph API and Genesys Cloud,
 * a demo tenant onboarded through the admin API (its WABA's two approved templates synced into
 * its catalogue), printed as it flows, in two scenes. 1: one WhatsApp message in, one agent reply
 * out, the statuses back as receipts. 2: the next morning — a customer whose last message is 25 h
 * old (Meta's `timestamp`; the Meta simulator enforces the 24-hour window as Meta does): the
 * agent's free text is refused before any call to Meta with a Failed receipt saying why, the agent
 * sends a template with `/template`, the customer answers. Stops by itself.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseEnv } from '@bridge/shared';
import { buildStatus, buildTextMessage, startGenesysSimulator, startMetaSimulator, wamidOf, type GenesysSimulator, type MetaSimulator } from '@bridge/simulators';
import { newBridgeTenant, onboardBridgeTenant, type BridgeTemplate, type BridgeTenant } from './bridge-tenant';
import { scriptsConfigSchema } from './config';
import { SERVICES, startSystem } from './system';

const out = (line = '') => process.stdout.write(`${line}\n`);
const step = (who: string, what: string) => out(`  ${new Date().toISOString().slice(11, 23)}  ${who.padEnd(22)} ${what}`);
/** `text` under the step's text, wrapped at spaces into lines of about `width` characters. */
function more(text: string, width = 70) {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    if (lines.length && `${lines[lines.length - 1]} ${word}`.length <= width) lines[lines.length - 1] += ` ${word}`;
    else lines.push(word);
  }
  for (const line of lines) out(`${' '.repeat(39)}${line}`);
}
const HOUR = 3_600_000;

/** The demo WABA's approved templates, at Meta (the simulator), synced into the tenant's catalogue. */
const TEMPLATES: BridgeTemplate[] = [
  { name: 'order_update', language: 'en_US', category: 'UTILITY', body: 'Hi {{1}}, your order {{2}} is on its way.' },
  // A re-open template: what the `template` window policy would send an agent's text as.
  { name: 'reopen', language: 'en_US', category: 'UTILITY', body: '{{1}}' },
];

async function until<T>(check: () => T | undefined | Promise<T | undefined>, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
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

/** A customer message delivered by Meta (the simulator) as a signed webhook; `at` is its Meta `timestamp`. */
async function customerWrites(o: { meta: MetaSimulator; gateway: string; tenant: BridgeTenant; waId: string; name: string; text: string; at?: Date }) {
  const inbound = buildTextMessage({ phoneNumberId: o.tenant.phoneNumberId, from: o.waId, profileName: o.name, body: o.text, timestamp: o.at });
  const delivery = await o.meta.deliverWebhook({ url: `${o.gateway}/webhook/meta/${o.tenant.tenantId}`, payload: inbound, appSecret: o.tenant.appSecret });
  return { inbound, delivery };
}

/** The customer's message once the bridge delivered it to Genesys. */
const atGenesys = (genesys: GenesysSimulator, tenant: BridgeTenant, wamid: string) =>
  until(() => genesys.messages(tenant.integrationId).find((m) => m.body.channel.messageId === wamid), 'the message at Genesys');

async function main() {
  const config = parseEnv(scriptsConfigSchema);
  // Meta's 24-hour rule on: a free-form send to a customer who has not written for 24 h is 131047.
  const meta = await startMetaSimulator({ retryDelayMs: 50, enforceCustomerWindow: true });
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
    const tenant = newBridgeTenant(`demo-${randomBytes(3).toString('hex')}`, '106540352242922', { wabaId: '102290129340398' });
    const created = await onboardBridgeTenant({
      adminUrl: system.urls['tenant-service'],
      adminKey: system.adminApiKey,
      meta,
      genesys,
      tenant,
      tenantFields: { name: 'Demo Shop' },
      templates: TEMPLATES,
    });
    const tenantHeaders = { 'X-API-Key': created.apiKey };
    step('admin', `onboarded tenant ${tenant.tenantId} (Meta number ${tenant.phoneNumberId} of WABA ${tenant.wabaId}, Genesys integration ${tenant.integrationId.slice(0, 8)}…)`);
    // tenant-service syncs the WABA's templates from Meta in the background once the credentials are stored.
    const catalogue = await until(async () => {
      const { templates } = (await api('GET', `${gateway}/templates?status=APPROVED`, undefined, tenantHeaders)) as { templates: Array<{ name: string; language: string; body: string }> };
      return templates.length === TEMPLATES.length ? templates : undefined;
    }, 'the template catalogue');
    step('tenant API', `GET /templates → synced from Meta: ${catalogue.map((t) => `${t.name} (${t.language}) "${t.body}"`).join(', ')}`);
    out();

    out('Scene 1: a customer writes, an agent answers.');
    const customer = { waId: '16505551234', name: 'Sheena Nelson' };
    step(`WhatsApp ${customer.waId}`, '"Hi! Does the jacket come in green? 🧥"');
    const { inbound, delivery } = await customerWrites({ meta, gateway, tenant, ...customer, text: 'Hi! Does the jacket come in green? 🧥' });
    step('Meta → gateway', `webhook signed, answered ${delivery.statuses.join(', ')}`);
    const first = await atGenesys(genesys, tenant, wamidOf(inbound));
    step('→ Genesys', `inbound message ${first.genesysMessageId?.slice(0, 8)}… in conversation ${first.conversationId?.slice(0, 8)}…, from "${first.body.channel.from.nickname}"`);
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

    await sceneTwo({ meta, genesys, gateway, tenant });
    out();

    const stats = await api('GET', `${gateway}/state/stats`, undefined, tenantHeaders);
    step('tenant API', `GET /state/stats → ${JSON.stringify(stats)}`);
    out();
    out('Done.');
  } finally {
    await system.stop();
    await Promise.allSettled([meta.close(), genesys.close()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Scene 2, the next morning: Ana wrote last evening (her message's Meta `timestamp` is 25 h ago),
 * so her 24-hour window is closed. The agent's free text is refused before any call to Meta (the
 * tenant's window policy is the default, reject) with a Failed receipt saying why and how to send
 * a template; the agent sends one with `/template`; Ana answers, which opens her window again.
 */
async function sceneTwo({ meta, genesys, gateway, tenant }: { meta: MetaSimulator; genesys: GenesysSimulator; gateway: string; tenant: BridgeTenant }) {
  const customer = { waId: '16505557788', name: 'Ana Ruiz' };
  const agent = (text: string) => genesys.agentReply({ webhookUrl: `${gateway}/webhook/genesys/${tenant.tenantId}`, secret: tenant.webhookSecret, integrationId: tenant.integrationId, to: customer.waId, text });
  const receiptsOf = (id: string) => genesys.receipts(tenant.integrationId).filter((r) => r.body.id === id);
  const sendsTo = () => meta.sends(tenant.phoneNumberId).filter((s) => s.body.to === customer.waId);
  const callsTo = () => meta.calls.filter((c) => c.endpoint === 'messages' && c.to === customer.waId).length;

  out('Scene 2: the next morning. A customer wrote last evening; her window is closed now.');
  const yesterday = new Date(Date.now() - 25 * HOUR);
  step(`WhatsApp ${customer.waId}`, `"Is my order #4411 on its way?" (Meta timestamp ${yesterday.toISOString().slice(0, 16)}Z, 25 h ago)`);
  const evening = await customerWrites({ meta, gateway, tenant, ...customer, text: 'Is my order #4411 on its way?', at: yesterday });
  const last = await atGenesys(genesys, tenant, wamidOf(evening.inbound));
  step('→ Genesys', `inbound message ${last.genesysMessageId?.slice(0, 8)}…, from "${last.body.channel.from.nickname}"`);

  const callsBefore = callsTo();
  const morning = await agent('Good morning Ana! Yes, it left our warehouse today.');
  step('Genesys agent', '"Good morning Ana! Yes, it left our warehouse today."');
  const refused = await until(() => receiptsOf(morning.id)[0], 'the Failed receipt');
  const reason = refused.body.reasons?.[0];
  const calls = callsTo() - callsBefore;
  step('→ Genesys', `receipt ${refused.body.status}, ${reason?.code}, ${calls === 0 ? 'no call to Meta' : `${calls} call(s) to Meta`}; the agent reads:`);
  more(`"${reason?.message}"`);

  const command = '/template order_update en_US\nAna\n#4411';
  const templated = await agent(command);
  step('Genesys agent', `"${command.replaceAll('\n', ' ⏎ ')}"`);
  const sent = await until(() => sendsTo()[0], 'the template send at Meta');
  step('→ WhatsApp', `template ${sent.template?.name} (${sent.template?.language}), wamid ${sent.wamid.slice(0, 16)}…; the customer reads:`);
  more(`"${sent.template?.body}"`);
  await meta.deliverWebhook({ url: `${gateway}/webhook/meta/${tenant.tenantId}`, payload: buildStatus({ phoneNumberId: tenant.phoneNumberId, wamid: sent.wamid, status: 'delivered', recipientId: customer.waId }), appSecret: tenant.appSecret });
  step(`WhatsApp ${customer.waId}`, 'status "delivered"');
  const delivered = await until(() => receiptsOf(templated.id)[0], 'the template receipt');
  step('→ Genesys', `receipt for the template: ${delivered.body.status}`);

  step(`WhatsApp ${customer.waId}`, '"Great, thank you! 🙏"');
  const answer = await customerWrites({ meta, gateway, tenant, ...customer, text: 'Great, thank you! 🙏' });
  const answered = await atGenesys(genesys, tenant, wamidOf(answer.inbound));
  step('→ Genesys', `inbound message ${answered.genesysMessageId?.slice(0, 8)}…, from "${answered.body.channel.from.nickname}": "${answered.body.text}"`);
  await agent('You are welcome, Ana! 🙂');
  step('Genesys agent', '"You are welcome, Ana! 🙂"');
  const text = await until(() => sendsTo().find((s) => s.body.type === 'text'), 'the free text at Meta');
  step('→ WhatsApp', `sent as text again (her window is open), wamid ${text.wamid.slice(0, 16)}…`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`Demo failed: ${err.message}\n`);
    process.exit(1);
  },
);
