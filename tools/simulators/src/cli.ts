#!/usr/bin/env node
/**
 * Starts both simulators for a demo, with their `/_sim/*` control APIs on, and prints the URLs
 * to point the bridge at.
 *
 *   node tools/simulators/dist/cli.js [--genesys-port 9100] [--meta-port 9200] [--host 127.0.0.1]
 *     [--org clientId:clientSecret:integrationId[,integrationId...]]...
 *     [--number phoneNumberId:accessToken[:displayPhoneNumber[:wabaId]]]...
 *     [--outbound-webhook integrationId:secret:url]... [--enforce-customer-window]
 *     [--retry-delay-ms 5000]
 */
import { parseArgs } from 'node:util';
import { startGenesysSimulator } from './genesys/index';
import { startMetaSimulator } from './meta/index';

function usage(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function port(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) usage(`invalid port: ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'genesys-port': { type: 'string' },
      'meta-port': { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      org: { type: 'string', multiple: true, default: [] },
      number: { type: 'string', multiple: true, default: [] },
      'outbound-webhook': { type: 'string', multiple: true, default: [] },
      'enforce-customer-window': { type: 'boolean', default: false },
      'retry-delay-ms': { type: 'string' },
    },
  });
  const retryDelayMs = values['retry-delay-ms'] === undefined ? undefined : Number(values['retry-delay-ms']);
  const genesys = await startGenesysSimulator({
    host: values.host,
    port: port(values['genesys-port'] ?? process.env.GENESYS_SIM_PORT, 9100),
    controlApi: true,
    retryDelayMs,
  });
  const meta = await startMetaSimulator({
    host: values.host,
    port: port(values['meta-port'] ?? process.env.META_SIM_PORT, 9200),
    controlApi: true,
    enforceCustomerWindow: values['enforce-customer-window'],
  });

  for (const spec of values.org ?? []) {
    const [clientId, clientSecret, integrations] = spec.split(':');
    if (!clientId || !clientSecret || !integrations) usage(`--org expects clientId:clientSecret:integrationId, got ${spec}`);
    genesys.addOrg({ clientId, clientSecret, integrationId: integrations.split(',') });
  }
  for (const spec of values.number ?? []) {
    const [phoneNumberId, accessToken, displayPhoneNumber, wabaId] = spec.split(':');
    if (!phoneNumberId || !accessToken) usage(`--number expects phoneNumberId:accessToken[:display[:wabaId]], got ${spec}`);
    meta.addNumber({ phoneNumberId, accessToken, displayPhoneNumber: displayPhoneNumber || undefined, wabaId });
  }
  for (const spec of values['outbound-webhook'] ?? []) {
    // The URL goes last: it has colons of its own.
    const [integrationId, secret, ...url] = spec.split(':');
    if (!integrationId || !secret || url.length === 0) usage(`--outbound-webhook expects integrationId:secret:url, got ${spec}`);
    genesys.setOutboundWebhook({ integrationId, secret, webhookUrl: url.join(':') });
  }

  process.stdout.write(
    [
      `Genesys simulator: ${genesys.url}`,
      `  GENESYS_LOGIN_URL=${genesys.url}`,
      `  GENESYS_API_URL=${genesys.url}`,
      `  control: POST ${genesys.url}/_sim/orgs | outbound-webhooks | agent-reply | agent-typing | fail-next | outage | latency | revoke-tokens | reset; GET /_sim/received | agentless | calls | outbound`,
      `Meta simulator: ${meta.url}`,
      `  META_GRAPH_URL=${meta.graphUrl}`,
      // Its media download URLs are on the same host; webhook-service accepts plain http only from loopback.
      `  MEDIA_DOWNLOAD_HOSTS=${new URL(meta.url).hostname}`,
      `  control: POST ${meta.url}/_sim/numbers | media | templates | deliver | template-status | customer-window | window-enforcement | pair-rate-limit | fail-next | outage | latency | reset; GET /_sim/sent | reads | calls | templates`,
      '',
    ].join('\n'),
  );

  const stop = (): void => {
    void Promise.all([genesys.close(), meta.close()]).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
