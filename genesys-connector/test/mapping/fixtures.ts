/**
 * Shared by the mapping tests: every message and status of the pywa fixtures (real Meta payloads),
 * and an InboundContext whose media links are recognisable. mapValid/mapFixture also check each
 * mapped body against the Genesys simulator's validator, which is as strict as Genesys.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validateInboundMessage, type MetaWebhookPayload } from '@bridge/simulators';
import { metaMessageToGenesys, type GenesysInboundMessage, type InboundContext, type MetaMessage, type MetaStatus } from '../../src/mapping';

// ------------------------------------------------------------------------------------------------
// Fixtures: every message and status in the pywa payloads, with the contact that came with it.

const FIXTURES = path.join(__dirname, '../../../test/fixtures');

export interface Contact {
  wa_id?: string;
  user_id?: string;
  profile?: { name?: string; username?: string };
}
interface Value {
  contacts?: Contact[];
  messages?: MetaMessage[];
  statuses?: MetaStatus[];
}
type Payload = { entry: Array<{ changes: Array<{ value: Value }> }> };

function loadFixture(file: string): Record<string, Payload> {
  return JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as Record<string, Payload>;
}

export interface FixtureMessage {
  name: string;
  message: MetaMessage;
  contact?: Contact;
}

export function messagesOf(payload: Payload | MetaWebhookPayload): Array<{ message: MetaMessage; contact?: Contact }> {
  const out: Array<{ message: MetaMessage; contact?: Contact }> = [];
  for (const entry of (payload as Payload).entry) {
    for (const change of entry.changes) {
      for (const message of change.value.messages ?? []) {
        const contact =
          change.value.contacts?.find((c) => (c.wa_id && c.wa_id === message.from) || (c.user_id && c.user_id === message.from_user_id)) ??
          change.value.contacts?.[0];
        out.push({ message, contact });
      }
    }
  }
  return out;
}

export function statusesOf(payload: Payload | MetaWebhookPayload): MetaStatus[] {
  return (payload as Payload).entry.flatMap((e) => e.changes.flatMap((c) => c.value.statuses ?? []));
}

const messageFiles = ['message.json', 'callback_button.json', 'callback_selection.json', 'message_status.json'];
export const fixtureMessages: FixtureMessage[] = [];
export const fixtureStatuses: Array<{ name: string; status: MetaStatus }> = [];
for (const file of messageFiles) {
  for (const [key, payload] of Object.entries(loadFixture(`meta-pywa/${file}`))) {
    messagesOf(payload).forEach((m, i) => fixtureMessages.push({ name: `${file}:${key}#${i}`, ...m }));
    statusesOf(payload).forEach((status, i) => fixtureStatuses.push({ name: `${file}:${key}#${i}`, status }));
  }
}

/** Customers without a phone number (test/fixtures/meta-bsuid): messages with their contact, statuses. */
export const bsuidMessages: FixtureMessage[] = Object.entries(loadFixture('meta-bsuid/message.json')).flatMap(([key, payload]) =>
  messagesOf(payload).map((m, i) => ({ name: `${key}#${i}`, ...m })),
);
export const bsuidStatuses: Array<{ name: string; status: MetaStatus }> = Object.entries(loadFixture('meta-bsuid/message_status.json')).flatMap(
  ([key, payload]) => statusesOf(payload).map((status, i) => ({ name: `${key}#${i}`, status })),
);
export const bsuidMessage = (key: string): FixtureMessage => {
  const found = bsuidMessages.find((m) => m.name === `${key}#0`);
  if (!found) throw new Error(`no BSUID fixture ${key}`);
  return found;
};

export const messageByKey = (key: string): FixtureMessage => {
  const found = fixtureMessages.find((m) => m.name.split(':')[1] === `${key}#0`);
  if (!found) throw new Error(`no fixture ${key}`);
  return found;
};
export const statusByKey = (key: string): MetaStatus => {
  const found = fixtureStatuses.find((s) => s.name === `message_status.json:${key}#0`);
  if (!found) throw new Error(`no status fixture ${key}`);
  return found.status;
};

// ------------------------------------------------------------------------------------------------

export const PUBLIC = 'https://bridge.example.com';
export type MediaCall = Parameters<InboundContext['mediaUrl']>[0];

export function context(contact?: Contact, calls: MediaCall[] = []): InboundContext {
  return {
    tenantId: 'acme',
    waId: contact?.wa_id,
    userId: contact?.user_id,
    profileName: contact?.profile?.name,
    username: contact?.profile?.username,
    mediaUrl: (media) => {
      calls.push(media);
      return `${PUBLIC}/webhook/media/acme/${encodeURIComponent(media.mediaId)}?mime=${encodeURIComponent(media.mimeType)}&sig=x`;
    },
  };
}

/** Maps a fixture by key, failing the test if the simulator would refuse the result. */
export function mapFixture(key: string, calls: MediaCall[] = []): GenesysInboundMessage {
  const { message, contact } = messageByKey(key);
  return mapValid(message, context(contact, calls));
}

export function mapValid(message: MetaMessage, ctx: InboundContext): GenesysInboundMessage {
  const body = metaMessageToGenesys(message, ctx);
  expect(validateInboundMessage(body as unknown as Record<string, unknown>)).toEqual([]);
  return body;
}

export function firstMessage(payload: MetaWebhookPayload): { message: MetaMessage; contact?: Contact } {
  return messagesOf(payload)[0];
}

export const attrs = (body: GenesysInboundMessage) => body.channel.metadata.customAttributes;
