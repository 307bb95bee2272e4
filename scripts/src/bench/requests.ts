/**
 * The requests the bench sends, built per request in autocannon's `setupRequest`: the tenant API
 * (`GET /state/stats`), signed Meta webhooks with new wamids, and signed Genesys agent replies.
 */
import { randomBytes } from 'node:crypto';
import type autocannon from 'autocannon';
import { metaSerialize, newWamid, signGenesys, signMeta } from '@bridge/simulators';
import type { Target } from './context';
import type { BenchTenant } from './seed';

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** GET /state/stats, cycling over (tenant, key) pairs; direct requests carry what the gateway would add, the others the API key. */
export function statsRequest(target: Target, entries: Array<{ tenantId: string; key: string }>, internalToken: string, path = '/state/stats'): autocannon.Request {
  let n = 0;
  return {
    method: 'GET',
    path,
    setupRequest: (req) => {
      const e = entries[n++ % entries.length];
      req.headers =
        target === 'direct'
          ? { 'x-tenant-id': e.tenantId, 'x-internal-token': internalToken, 'x-tenant-auth': 'api-key' }
          : { 'x-api-key': e.key };
      return req;
    },
  };
}

/** A customer of tenant `t`: `<prefix><tenant index, 5 digits><k, 2 digits>`. */
export const customerWaId = (prefix: string, t: BenchTenant, k: number) => `${prefix}${pad(t.index, 5)}${pad(k, 2)}`;

/** A Meta webhook body for one tenant's number, text messages only, serialised as Meta does. */
function metaBody(t: BenchTenant, messages: Array<{ from: string; name: string; wamid: string; text: string }>): string {
  const ts = String(Math.floor(Date.now() / 1000));
  const contacts: Array<{ profile: { name: string }; wa_id: string }> = [];
  const seen = new Set<string>();
  for (const m of messages) {
    if (seen.has(m.from)) continue;
    seen.add(m.from);
    contacts.push({ profile: { name: m.name }, wa_id: m.from });
  }
  return metaSerialize({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: t.wabaId,
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: t.displayPhoneNumber, phone_number_id: t.phoneNumberId },
              contacts,
              messages: messages.map((m) => ({ from: m.from, id: m.wamid, timestamp: ts, type: 'text', text: { body: m.text } })),
            },
            field: 'messages',
          },
        ],
      },
    ],
  });
}

/** One customer of one tenant. */
export interface Conversation {
  tenant: BenchTenant;
  waId: string;
}

/**
 * Signed Meta webhooks to /webhook/meta/<tenant>, every message with a new wamid. `perRequest`
 * messages per POST, from as many different customers of the tenant. With `onAccepted`, the time
 * each 200 arrives is reported with the wamids it carried.
 */
export function metaRequest(o: {
  conversations: (n: number) => Conversation[];
  perRequest: number;
  text: (seq: number) => string;
  onAccepted?: (wamids: string[], at: number) => void;
}): autocannon.Request {
  let n = 0;
  let seq = 0;
  const request: autocannon.Request = {
    method: 'POST',
    setupRequest: (req, context) => {
      const convs = o.conversations(n++);
      const tenant = convs[0].tenant;
      const messages = convs.map((c) => ({ from: c.waId, name: `Customer ${c.waId.slice(-2)}`, wamid: newWamid(), text: o.text(seq++) }));
      const body = metaBody(tenant, messages);
      (context as { wamids?: string[] }).wamids = messages.map((m) => m.wamid);
      return {
        ...req,
        path: `/webhook/meta/${tenant.id}`,
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMeta(tenant.appSecret, body), 'user-agent': 'facebookexternalua' },
        body,
      };
    },
  };
  if (o.onAccepted) {
    const accepted = o.onAccepted;
    request.onResponse = (status, _body, context) => {
      if (status === 200) accepted((context as { wamids: string[] }).wamids, Date.now());
    };
  }
  return request;
}

/**
 * Agent replies as the Genesys simulator's agentReply sends them (same body, base64 HMAC with
 * the tenant's webhook secret) to /webhook/genesys/<tenant>; reports when each 200 arrives, by text.
 */
export function genesysReplyRequest(o: { conversations: (n: number) => Conversation; text: (seq: number) => string; onAccepted: (text: string, at: number) => void }): autocannon.Request {
  let n = 0;
  return {
    method: 'POST',
    setupRequest: (req, context) => {
      const seq = n++;
      const c = o.conversations(seq);
      const id = randomBytes(16).toString('hex');
      const text = o.text(seq);
      const body = JSON.stringify({
        id,
        channel: {
          id: c.tenant.integrationId,
          platform: 'Open',
          type: 'Private',
          to: { id: c.waId },
          from: { nickname: 'Acme Support', id: c.tenant.integrationId, idType: 'Opaque' },
          time: new Date().toISOString(),
          messageId: id,
        },
        type: 'Text',
        text,
        originatingEntity: 'Human',
        direction: 'Outbound',
      });
      (context as { text?: string }).text = text;
      return {
        ...req,
        path: `/webhook/genesys/${c.tenant.id}`,
        headers: { 'content-type': 'application/json', 'user-agent': 'Genesys-Open-Messaging-Simulator', 'x-hub-signature-256': signGenesys(c.tenant.webhookSecret, body) },
        body,
      };
    },
    onResponse: (status, _body, context) => {
      if (status === 200) o.onAccepted((context as { text: string }).text, Date.now());
    },
  };
}
