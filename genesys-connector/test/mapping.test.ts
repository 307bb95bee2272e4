import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  GENESYS_FAILURE_REASONS,
  buildAudioMessage,
  buildFailedStatus,
  buildImageMessage,
  buildStatus,
  buildTextMessage,
  validateInboundMessage,
  validateInboundReceipt,
  validateSendBody,
  type MetaWebhookPayload,
} from '@bridge/simulators';
import {
  MAX_GENESYS_TEXT,
  UnmappableMessage,
  classifyMetaError,
  genesysOutboundToMetaSends,
  metaErrorToReason,
  metaMessageToGenesys,
  metaStatusToGenesysReceipt,
  type GenesysInboundMessage,
  type GenesysOutboundMessage,
  type InboundContext,
  type MetaMessage,
  type MetaSendBody,
  type MetaStatus,
} from '../src/mapping';

// ------------------------------------------------------------------------------------------------
// Fixtures: every message and status in the pywa payloads, with the contact that came with it.

const FIXTURES = path.join(__dirname, '../../test/fixtures/meta-pywa');

interface Contact {
  wa_id?: string;
  user_id?: string;
  profile?: { name?: string };
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

interface FixtureMessage {
  name: string;
  message: MetaMessage;
  contact?: Contact;
}

function messagesOf(payload: Payload | MetaWebhookPayload): Array<{ message: MetaMessage; contact?: Contact }> {
  const out: Array<{ message: MetaMessage; contact?: Contact }> = [];
  for (const entry of (payload as Payload).entry) {
    for (const change of entry.changes) {
      for (const message of change.value.messages ?? []) {
        const contact = change.value.contacts?.find((c) => c.wa_id === message.from) ?? change.value.contacts?.[0];
        out.push({ message, contact });
      }
    }
  }
  return out;
}

function statusesOf(payload: Payload | MetaWebhookPayload): MetaStatus[] {
  return (payload as Payload).entry.flatMap((e) => e.changes.flatMap((c) => c.value.statuses ?? []));
}

const messageFiles = ['message.json', 'callback_button.json', 'callback_selection.json', 'message_status.json'];
const fixtureMessages: FixtureMessage[] = [];
const fixtureStatuses: Array<{ name: string; status: MetaStatus }> = [];
for (const file of messageFiles) {
  for (const [key, payload] of Object.entries(loadFixture(file))) {
    messagesOf(payload).forEach((m, i) => fixtureMessages.push({ name: `${file}:${key}#${i}`, ...m }));
    statusesOf(payload).forEach((status, i) => fixtureStatuses.push({ name: `${file}:${key}#${i}`, status }));
  }
}

const messageByKey = (key: string): FixtureMessage => {
  const found = fixtureMessages.find((m) => m.name.split(':')[1] === `${key}#0`);
  if (!found) throw new Error(`no fixture ${key}`);
  return found;
};
const statusByKey = (key: string): MetaStatus => {
  const found = fixtureStatuses.find((s) => s.name === `message_status.json:${key}#0`);
  if (!found) throw new Error(`no status fixture ${key}`);
  return found.status;
};

// ------------------------------------------------------------------------------------------------

const PUBLIC = 'https://bridge.example.com';
type MediaCall = Parameters<InboundContext['mediaUrl']>[0];

function context(contact?: Contact, calls: MediaCall[] = []): InboundContext {
  return {
    tenantId: 'acme',
    waId: contact?.wa_id,
    userId: contact?.user_id,
    profileName: contact?.profile?.name,
    mediaUrl: (media) => {
      calls.push(media);
      return `${PUBLIC}/webhook/media/acme/${encodeURIComponent(media.mediaId)}?mime=${encodeURIComponent(media.mimeType)}&sig=x`;
    },
  };
}

/** Maps a fixture by key, failing the test if the simulator would refuse the result. */
function mapFixture(key: string, calls: MediaCall[] = []): GenesysInboundMessage {
  const { message, contact } = messageByKey(key);
  return mapValid(message, context(contact, calls));
}

function mapValid(message: MetaMessage, ctx: InboundContext): GenesysInboundMessage {
  const body = metaMessageToGenesys(message, ctx);
  expect(validateInboundMessage(body as unknown as Record<string, unknown>)).toEqual([]);
  return body;
}

function firstMessage(payload: MetaWebhookPayload): { message: MetaMessage; contact?: Contact } {
  return messagesOf(payload)[0];
}

const attrs = (body: GenesysInboundMessage) => body.channel.metadata.customAttributes;

describe('metaMessageToGenesys over every pywa fixture', () => {
  it('found the fixtures', () => {
    expect(fixtureMessages.length).toBeGreaterThanOrEqual(28);
    expect(fixtureStatuses.length).toBe(7);
  });

  it.each(fixtureMessages.map((m) => [m.name, m] as const))('%s maps to a body the Genesys simulator accepts', (_name, fixture) => {
    const body = metaMessageToGenesys(fixture.message, context(fixture.contact));
    expect(validateInboundMessage(body as unknown as Record<string, unknown>)).toEqual([]);
    expect(body.channel.messageId).toBe(fixture.message.id);
    expect(body.channel.time).toBe(new Date(Number(fixture.message.timestamp) * 1000).toISOString());
    expect(attrs(body).tenantId).toBe('acme');
    expect(attrs(body).waMessageType).toBe(fixture.message.type);
    expect(body.text === undefined || body.text.length <= MAX_GENESYS_TEXT).toBe(true);
  });
});

describe('metaMessageToGenesys per type', () => {
  it('text: body, sender with split name, time and attributes', () => {
    const body = mapFixture('text');
    expect(body.text).toBe('Body Text');
    expect(body.content).toBeUndefined();
    expect(body.channel).toEqual({
      messageId: 'wamid.xyzxyz',
      time: '2023-10-11T16:53:43.000Z',
      from: { id: '972987654321', idType: 'Phone', nickname: 'Test Name', firstName: 'Test', lastName: 'Name' },
      metadata: { customAttributes: { tenantId: 'acme', waMessageType: 'text', waUserId: 'US.13491208655302741918' } },
    });
  });

  it('image: an Image attachment on our signed URL, never Meta\'s URL', () => {
    const calls: MediaCall[] = [];
    const body = mapFixture('image', calls);
    expect(calls).toEqual([{ mediaId: '65463453', mimeType: 'image/jpeg', filename: 'image.jpg' }]);
    expect(body.content).toEqual([
      {
        contentType: 'Attachment',
        attachment: { mediaType: 'Image', url: `${PUBLIC}/webhook/media/acme/65463453?mime=image%2Fjpeg&sig=x`, mime: 'image/jpeg', filename: 'image.jpg' },
      },
    ]);
    expect(body.text).toBeUndefined();

    const withUrl = mapFixture('media_with_url');
    expect(withUrl.content?.[0].attachment.url.startsWith(`${PUBLIC}/webhook/media/acme/65463453`)).toBe(true);
    expect(JSON.stringify(withUrl)).not.toContain('lookaside.fbsbx.com');
  });

  it('video: Video attachment with the caption as text, forwarded flagged', () => {
    const body = mapFixture('video');
    expect(body.content?.[0].attachment).toMatchObject({ mediaType: 'Video', mime: 'video/mp4', filename: 'video.mp4' });
    expect(body.text).toBe('caption');
    expect(attrs(body).forwarded).toBe('true');
  });

  it('document: File attachment keeps the filename and caption', () => {
    const calls: MediaCall[] = [];
    const body = mapFixture('document', calls);
    expect(body.content?.[0].attachment).toMatchObject({ mediaType: 'File', mime: 'application/pdf', filename: 'filename.pdf' });
    expect(calls[0]).toEqual({ mediaId: '1234567890987654321', mimeType: 'application/pdf', filename: 'filename.pdf' });
    expect(body.text).toBe('caption');
  });

  it('audio and voice notes: Audio attachments, MIME parameters dropped, voice flagged', () => {
    const audio = mapFixture('audio');
    expect(audio.content?.[0].attachment).toMatchObject({ mediaType: 'Audio', mime: 'audio/ogg', filename: 'audio.ogg' });
    expect(attrs(audio).voiceNote).toBeUndefined();
    const voice = mapFixture('voice');
    expect(voice.content?.[0].attachment).toMatchObject({ mediaType: 'Audio', mime: 'audio/ogg' });
    expect(attrs(voice).voiceNote).toBe('true');
  });

  it('stickers, static and animated: Image attachments', () => {
    for (const key of ['static_sticker', 'animated_sticker']) {
      const body = mapFixture(key);
      expect(body.content?.[0].attachment).toMatchObject({ mediaType: 'Image', mime: 'image/webp', filename: 'sticker.webp' });
    }
    expect(attrs(mapFixture('animated_sticker')).animatedSticker).toBe('true');
  });

  it('a media message without a media id tells the agent instead of sending a broken link', () => {
    const { message, contact } = messageByKey('image');
    const body = mapValid({ ...message, image: { mime_type: 'image/jpeg' } }, context(contact));
    expect(body.content).toBeUndefined();
    expect(body.text).toBe('[image could not be retrieved]');
  });

  it('reaction and removed reactions', () => {
    const reaction = mapFixture('reaction');
    expect(reaction.text).toBe('Reacted 😮 to a message');
    expect(attrs(reaction).reactionTo).toBe('wamid.yzxyzx=');
    for (const key of ['unreaction_empty', 'unreaction_no_emoji']) {
      const body = mapFixture(key);
      expect(body.text).toBe('Removed a reaction');
      expect(attrs(body).reactionTo).toBe('wamid.yzxyzx=');
    }
  });

  it('locations: name, address and a maps link with the coordinates', () => {
    expect(mapFixture('current_location').text).toBe('📍 Location\nhttps://maps.google.com/?q=12.25089,43.90539');
    const chosen = mapFixture('chosen_location').text!;
    expect(chosen.startsWith('📍 Facebook HQ\n1 Hacker Way, Menlo Park, CA 94025\nhttps://maps.google.com/?q=37.4611978,-122.2164385')).toBe(true);
    expect(chosen).toContain('https://maps.google.com/?cid=2000000000000000000');
  });

  it('contacts: every contact with its formatted name and phones', () => {
    const text = mapFixture('contacts').text!;
    expect(text).toContain('👤 Chandler Bing\n📞 +1 555-555-5555 (CELL)');
    expect(text).toContain('👤 Monica\n📞 +1 666-666-6666 (HOME)');
    expect(text).toContain('👤 Rachel Green\n📞 +1 777-777-7777 (WORK)');
  });

  it('order: a summary of the items and the total', () => {
    const body = mapFixture('order');
    expect(body.text).toBe(
      '🛒 Order (3 items)\n• 3 × HAMBURGER — 30 ILS\n• 2 × FRENCH_FRIES — 35 ILS\n• 2 × SODA — 10 ILS\nTotal: 180 ILS',
    );
    expect(attrs(body).orderCatalogId).toBe('354160437058781');
  });

  it('unsupported messages: a notice naming the type and the WhatsApp error', () => {
    const plain = mapFixture('unsupported');
    expect(plain.text).toBe('[Unsupported WhatsApp message type: unsupported]\n\n[WhatsApp error 131051: Message type unknown]');
    expect(attrs(plain).waErrorCode).toBe('131051');
    expect(mapFixture('unsupported_with_type').text).toContain('[Unsupported WhatsApp message type: pool]');
  });

  it('an interactive message with no body (the error fixture) becomes a notice, keeping the reply context', () => {
    const body = mapFixture('interactive_message_with_err');
    expect(body.text).toBe('[Unsupported WhatsApp message type: interactive]');
    expect(attrs(body).replyTo).toBe('wamid.gvwegfretge==');
  });

  it('unknown and system types become short notices', () => {
    const { message, contact } = messageByKey('text');
    const unknown = mapValid({ ...message, type: 'hologram', text: undefined }, context(contact));
    expect(unknown.text).toBe('[Unsupported WhatsApp message type: hologram]');
    const system = mapValid(
      { ...message, type: 'system', text: undefined, system: { body: 'User A changed from 111 to 222', type: 'user_changed_number' } },
      context(contact),
    );
    expect(system.text).toBe('[WhatsApp system message] User A changed from 111 to 222');
  });

  it('errors on any message are spelled out to the agent', () => {
    const { message, contact } = messageByKey('text');
    const body = mapValid({ ...message, errors: [{ code: 131052, title: 'Media download error' }] }, context(contact));
    expect(body.text).toBe('Body Text\n\n[WhatsApp error 131052: Media download error]');
  });

  it('replies and forwards carry their context as string attributes', () => {
    const reply = mapFixture('reply');
    expect(reply.text).toBe('replied text');
    expect(attrs(reply).replyTo).toBe('wamid.xyzxyz==');
    expect(attrs(reply).forwarded).toBeUndefined();
    expect(attrs(mapFixture('forwarded')).forwarded).toBe('true');
    const many = attrs(mapFixture('forwarded_many_times'));
    expect(many.forwarded).toBe('true');
    expect(many.frequentlyForwarded).toBe('true');
  });

  it('referral: the text plus the ad headline and URL', () => {
    const body = mapFixture('referral');
    expect(body.text).toBe('BODY\n\n↪ Referred by ad or post: AD_TITLE\nAD_OR_POST_FB_URL');
    expect(attrs(body)).toMatchObject({ referralSourceUrl: 'AD_OR_POST_FB_URL', referralSourceId: 'ADID', referralCtwaClid: 'CTWA_CLID' });
  });

  it('button and list replies: the title (and description) as text', () => {
    const button = mapFixture('button');
    expect(button.text).toBe('title');
    expect(attrs(button).replyId).toBe('callback_data');
    expect(attrs(button).replyTo).toBe('wamid.xyzxyz');
    const quick = mapFixture('quick_reply');
    expect(quick.text).toBe('title');
    expect(attrs(quick).buttonPayload).toBe('callback_data');
    expect(mapFixture('quick_reply_without_context').channel.from).toMatchObject({ id: '972987654321', idType: 'Phone' });
    expect(mapFixture('callback').text).toBe('title');
    expect(mapFixture('description').text).toBe('title\ndescription');
  });

  it('a Flow (nfm_reply) answer becomes a short summary of its fields', () => {
    const { message, contact } = messageByKey('button');
    const body = mapValid(
      {
        ...message,
        interactive: {
          type: 'nfm_reply',
          nfm_reply: { name: 'flow', body: 'Sent', response_json: '{"flow_token":"secret-token","size":"M","extras":["gift"]}' },
        },
      },
      context(contact),
    );
    expect(body.text).toBe('📝 Form submitted\nsize: M\nextras: ["gift"]');
  });
});

describe('unicode', () => {
  const samples = [
    'Olá, está tudo bem? Ça va très bien, merci! Ñandú — naïve façade',
    'مرحبا، كيف يمكنني مساعدتك؟',
    'שלום, מה שלומך? 👋',
    'Emoji: 👍🏽 👨‍👩‍👧‍👦 🇮🇱 ❤️‍🔥 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    'Mixed RTL: order ‏#123 הזמנה‎ ok',
  ];

  it.each(samples)('text %s is preserved exactly', (sample) => {
    const { message } = firstMessage(buildTextMessage({ phoneNumberId: '1', body: sample, profileName: 'علي بن أحمد' }));
    const body = mapValid(message, { ...context(), waId: message.from, profileName: 'علي بن أحمد' });
    expect(body.text).toBe(sample);
    expect(body.channel.from).toMatchObject({ nickname: 'علي بن أحمد', firstName: 'علي', lastName: 'بن أحمد' });
    expect(JSON.parse(JSON.stringify(body)).text).toBe(sample);
  });

  it('captions and filenames in Hebrew and with emoji are preserved', () => {
    const { message, contact } = firstMessage(
      buildImageMessage({ phoneNumberId: '1', mediaId: 'm1', mimeType: 'image/png', caption: 'תמונה 📷 café' }),
    );
    expect(mapValid(message, context(contact)).text).toBe('תמונה 📷 café');
    const { message: doc, contact: c2 } = messageByKey('document');
    const calls: MediaCall[] = [];
    const body = mapValid({ ...doc, document: { ...doc.document, filename: 'חשבונית 2024 ✅.pdf' } }, context(c2, calls));
    expect(body.content?.[0].attachment.filename).toBe('חשבונית 2024 ✅.pdf');
    expect(calls[0].filename).toBe('חשבונית 2024 ✅.pdf');
  });

  it('long text is cut to 4000 with an ellipsis, never inside a surrogate pair', () => {
    const { message, contact } = messageByKey('text');
    const long = mapValid({ ...message, text: { body: 'a'.repeat(5000) } }, context(contact));
    expect(long.text).toHaveLength(MAX_GENESYS_TEXT);
    expect(long.text!.endsWith('a…')).toBe(true);
    // An emoji straddling the cut point is dropped whole.
    const emoji = mapValid({ ...message, text: { body: 'a'.repeat(3998) + '😀'.repeat(10) } }, context(contact));
    expect(emoji.text).toBe('a'.repeat(3998) + '…');
    expect(emoji.text!.length).toBeLessThanOrEqual(MAX_GENESYS_TEXT);
  });
});

describe('senders without a phone number', () => {
  it('uses the business-scoped user id as an Opaque id', () => {
    const { message, contact } = firstMessage(
      buildTextMessage({ phoneNumberId: '1', body: 'hi', from: null, userId: 'US.555', profileName: 'Ana' }),
    );
    expect(message.from).toBeUndefined();
    const body = mapValid(message, context(contact));
    expect(body.channel.from).toEqual({ id: 'US.555', idType: 'Opaque', nickname: 'Ana', firstName: 'Ana' });
  });

  it('falls back to the contact\'s user id when the message has none', () => {
    const { message } = messageByKey('text');
    const { from: _from, ...noFrom } = message;
    const body = mapValid(noFrom as MetaMessage, { ...context(), waId: undefined, userId: 'US.777' });
    expect(body.channel.from).toMatchObject({ id: 'US.777', idType: 'Opaque' });
  });

  it('prefers the phone number when both are known', () => {
    const { message, contact } = messageByKey('quick_reply_without_context');
    expect(message.from_user_id).toBeDefined();
    expect(mapValid(message, context(contact)).channel.from).toMatchObject({ id: '972987654321', idType: 'Phone' });
  });

  it('throws UnmappableMessage when there is neither', () => {
    const { message } = messageByKey('text');
    const { from: _from, ...noFrom } = message;
    expect(() => metaMessageToGenesys(noFrom as MetaMessage, { ...context(), waId: undefined })).toThrow(UnmappableMessage);
  });

  it('throws UnmappableMessage for a message without a usable timestamp', () => {
    const { message, contact } = messageByKey('text');
    expect(() => metaMessageToGenesys({ ...message, timestamp: 'yesterday' }, context(contact))).toThrow(UnmappableMessage);
  });
});

// ------------------------------------------------------------------------------------------------

function receiptValid(status: MetaStatus, id = 'g-123') {
  const receipt = metaStatusToGenesysReceipt(status, id);
  if (receipt) expect(validateInboundReceipt(receipt as unknown as Record<string, unknown>)).toEqual([]);
  return receipt;
}

describe('metaStatusToGenesysReceipt', () => {
  it.each(fixtureStatuses.map((s) => [s.name, s.status] as const))('%s maps to nothing or to a receipt the simulator accepts', (_n, status) => {
    const receipt = receiptValid(status);
    expect(receipt === undefined).toBe(status.status === 'sent' || status.status === 'played');
  });

  it('delivered → Delivered, not final, shaped as the reference shows', () => {
    expect(receiptValid(statusByKey('delivered'), 'abc')).toEqual({
      id: 'abc',
      channel: { to: { id: '972987654321', idType: 'Phone' }, time: '2023-10-25T20:49:05.000Z' },
      status: 'Delivered',
      direction: 'Outbound',
      isFinalReceipt: false,
    });
  });

  it('read → Delivered and final (delivered may never come)', () => {
    expect(receiptValid(statusByKey('read'))).toMatchObject({ status: 'Delivered', isFinalReceipt: true });
  });

  it('sent and played → nothing to send', () => {
    expect(metaStatusToGenesysReceipt(statusByKey('sent'), 'g')).toBeUndefined();
    expect(metaStatusToGenesysReceipt(statusByKey('played'), 'g')).toBeUndefined();
    expect(metaStatusToGenesysReceipt(statusByKey('with_tracker'), 'g')).toBeUndefined();
  });

  it('failed 131047 → Failed with MessageExpired, final', () => {
    const [status] = statusesOf(buildFailedStatus({ phoneNumberId: '1', wamid: 'wamid.A', timestamp: 1700000000 }));
    const receipt = receiptValid(status)!;
    expect(receipt.status).toBe('Failed');
    expect(receipt.isFinalReceipt).toBe(true);
    expect(receipt.reasons).toHaveLength(1);
    expect(receipt.reasons![0].code).toBe('MessageExpired');
    expect(receipt.reasons![0].message).toContain('131047');
  });

  it('the fixture failure (130472, an experiment) → MessageNotAllowed', () => {
    expect(receiptValid(statusByKey('failed'))!.reasons![0].code).toBe('MessageNotAllowed');
  });

  it('a failed status without errors is still a valid Failed receipt', () => {
    const [status] = statusesOf(buildStatus({ phoneNumberId: '1', wamid: 'wamid.B', status: 'failed', errors: [] }));
    delete status.errors;
    expect(receiptValid(status)!.reasons![0].code).toBe('GeneralError');
  });

  it('a group recipient (not a phone number) is Opaque', () => {
    expect(receiptValid(statusByKey('group'))!.channel.to).toEqual({ id: 'fowefinoewcnw', idType: 'Opaque' });
  });
});

describe('metaErrorToReason', () => {
  const table: Array<[number | undefined, string]> = [
    [131047, 'MessageExpired'],
    [130429, 'RateLimited'],
    [131056, 'RateLimited'],
    [4, 'RateLimited'],
    [80007, 'RateLimited'],
    [131026, 'InvalidDestination'],
    [131051, 'UnsupportedMessage'],
    [131052, 'GeneralError'],
    [131053, 'MediaTypeNotAllowed'],
    [100, 'InvalidMessageStructure'],
    [131050, 'RecipientOptedOut'],
    [190, 'GeneralError'],
    [131000, 'ServerError'],
    [131016, 'ServerError'],
    [132001, 'InvalidMessageStructure'],
    [999999, 'GeneralError'],
    [undefined, 'GeneralError'],
  ];

  it.each(table)('%s → %s, a code the receipt endpoint accepts', (code, expected) => {
    const reason = metaErrorToReason(code, 'Meta says no');
    expect(reason.code).toBe(expected);
    expect((GENESYS_FAILURE_REASONS as readonly string[]).includes(reason.code)).toBe(true);
    expect(reason.message.length).toBeGreaterThan(0);
  });

  it('keeps Meta\'s text and code for the agent', () => {
    expect(metaErrorToReason(999999, 'Something odd').message).toBe('Something odd (WhatsApp error 999999)');
    expect(metaErrorToReason(131047, 'Re-engagement message').message).toMatch(/24 hours.*\(WhatsApp error 131047: Re-engagement message\)$/);
  });
});

describe('classifyMetaError', () => {
  const table: Array<[number | undefined, number, 'transient' | 'permanent']> = [
    [130429, 400, 'transient'],
    [131056, 400, 'transient'],
    [131057, 400, 'transient'],
    [4, 400, 'transient'],
    [80007, 400, 'transient'],
    [131000, 500, 'transient'],
    [131016, 503, 'transient'],
    [1, 400, 'transient'],
    [2, 400, 'transient'],
    [131047, 400, 'permanent'],
    [100, 400, 'permanent'],
    [190, 401, 'permanent'],
    [131026, 400, 'permanent'],
    [131051, 400, 'permanent'],
    [131050, 400, 'permanent'],
    [131052, 400, 'permanent'],
    [131053, 400, 'permanent'],
    [368, 400, 'permanent'],
    [131031, 400, 'permanent'],
    // A permanent code stays permanent even on a 5xx.
    [131047, 500, 'permanent'],
    // No or unknown code: the HTTP status decides.
    [undefined, 500, 'transient'],
    [undefined, 502, 'transient'],
    [undefined, 429, 'transient'],
    [undefined, 0, 'transient'],
    [424242, 503, 'transient'],
    [undefined, 400, 'permanent'],
    [undefined, 404, 'permanent'],
    [424242, 400, 'permanent'],
  ];
  it.each(table)('code %s with HTTP %s is %s', (code, status, expected) => {
    expect(classifyMetaError(code, status)).toBe(expected);
  });
});

// ------------------------------------------------------------------------------------------------

const TO = '16505551234';

function outbound(extra: Partial<GenesysOutboundMessage>): GenesysOutboundMessage {
  return {
    id: '36e4d8d92b071f15116d01d111bb8802',
    channel: { id: 'integration', platform: 'Open', type: 'Private', to: { id: TO }, time: '2021-11-25T09:42:16.302Z' },
    type: 'Text',
    direction: 'Outbound',
    originatingEntity: 'Human',
    ...extra,
  };
}

function att(mediaType: string, url: string, mime?: string, filename?: string) {
  return { contentType: 'Attachment', attachment: { mediaType, url, ...(mime ? { mime } : {}), ...(filename ? { filename } : {}) } };
}

/** Maps and checks every send against the Meta simulator's validator. */
function sendsFor(msg: GenesysOutboundMessage): MetaSendBody[] {
  const sends = genesysOutboundToMetaSends(msg, TO);
  for (const send of sends) expect(validateSendBody(send as unknown as Record<string, unknown>)).toEqual([]);
  return sends;
}

describe('genesysOutboundToMetaSends', () => {
  it('text → one text send', () => {
    expect(sendsFor(outbound({ text: 'Hello there! ¿Qué tal? 👋 שלום' }))).toEqual([
      { messaging_product: 'whatsapp', recipient_type: 'individual', to: TO, type: 'text', text: { body: 'Hello there! ¿Qué tal? 👋 שלום', preview_url: false } },
    ]);
  });

  it('turns link previews on when the text has a URL', () => {
    const [send] = sendsFor(outbound({ text: 'See https://example.com/help' }));
    expect(send.type === 'text' && send.text.preview_url).toBe(true);
  });

  it('splits text over 4096 characters at whitespace, losing no words', () => {
    const words = Array.from({ length: 2000 }, (_, i) => `word${i}`);
    const text = words.join(' ');
    const sends = sendsFor(outbound({ text }));
    expect(sends.length).toBeGreaterThan(1);
    const bodies = sends.map((s) => (s.type === 'text' ? s.text.body : ''));
    for (const b of bodies) expect(b.length).toBeLessThanOrEqual(4096);
    expect(bodies.join(' ').split(' ')).toEqual(words);
  });

  it('splits an unbroken text hard, without breaking emoji', () => {
    const text = '😀'.repeat(3000);
    const bodies = sendsFor(outbound({ text })).map((s) => (s.type === 'text' ? s.text.body : ''));
    expect(bodies.join('')).toBe(text);
    for (const b of bodies) expect(b.length).toBeLessThanOrEqual(4096);
  });

  it('one image with text → one image send with the text as caption', () => {
    expect(sendsFor(outbound({ type: 'Structured', text: 'Your receipt', content: [att('Image', 'https://cdn.example.com/r.png', 'image/png')] }))).toEqual([
      { messaging_product: 'whatsapp', recipient_type: 'individual', to: TO, type: 'image', image: { link: 'https://cdn.example.com/r.png', caption: 'Your receipt' } },
    ]);
  });

  it('one image with text over 1024 characters → text first, then the image', () => {
    const text = 'x '.repeat(600).trim();
    const sends = sendsFor(outbound({ text, content: [att('Image', 'https://cdn.example.com/r.jpg', 'image/jpeg')] }));
    expect(sends.map((s) => s.type)).toEqual(['text', 'image']);
    expect(sends[1].type === 'image' && sends[1].image.caption).toBeUndefined();
  });

  it('audio cannot take a caption: text first, then the audio', () => {
    const sends = sendsFor(outbound({ text: 'Listen', content: [att('Audio', 'https://cdn.example.com/a.mp3', 'audio/mpeg')] }));
    expect(sends).toEqual([
      expect.objectContaining({ type: 'text', text: { body: 'Listen', preview_url: false } }),
      expect.objectContaining({ type: 'audio', audio: { link: 'https://cdn.example.com/a.mp3' } }),
    ]);
  });

  it('several attachments → the text, then one send each, in order', () => {
    const sends = sendsFor(
      outbound({
        text: 'Here you go',
        content: [
          att('Image', 'https://cdn.example.com/1.jpg', 'image/jpeg'),
          att('Video', 'https://cdn.example.com/2.mp4', 'video/mp4'),
          att('File', 'https://cdn.example.com/3.pdf', 'application/pdf', 'contract.pdf'),
        ],
      }),
    );
    expect(sends.map((s) => s.type)).toEqual(['text', 'image', 'video', 'document']);
    expect(sends[3].type === 'document' && sends[3].document).toEqual({ link: 'https://cdn.example.com/3.pdf', filename: 'contract.pdf' });
  });

  it('File → document with its filename (or one taken from the URL)', () => {
    const [named] = sendsFor(outbound({ text: undefined, content: [att('File', 'https://cdn.example.com/x', 'application/pdf', 'Factura ñ.pdf')] }));
    expect(named).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: TO,
      type: 'document',
      document: { link: 'https://cdn.example.com/x', filename: 'Factura ñ.pdf' },
    });
    const [unnamed] = sendsFor(outbound({ text: undefined, content: [att('File', 'https://cdn.example.com/files/report%202024.xlsx?sig=1')] }));
    expect(unnamed.type === 'document' && unnamed.document.filename).toBe('report 2024.xlsx');
  });

  it('media WhatsApp would refuse as image (a GIF) goes as a document', () => {
    const [send] = sendsFor(outbound({ text: 'funny', content: [att('Image', 'https://cdn.example.com/a.gif', 'image/gif', 'a.gif')] }));
    expect(send).toMatchObject({ type: 'document', document: { link: 'https://cdn.example.com/a.gif', filename: 'a.gif', caption: 'funny' } });
  });

  it('skips attachments without an http(s) URL and sends Link attachments as text', () => {
    const sends = sendsFor(
      outbound({ text: 'Docs:', content: [att('Image', 'ftp://x/y.png', 'image/png'), att('Link', 'https://example.com/docs')] }),
    );
    expect(sends).toEqual([expect.objectContaining({ type: 'text', text: { body: 'Docs:\nhttps://example.com/docs', preview_url: true } })]);
  });

  it('empty messages, receipts and events → no sends', () => {
    expect(genesysOutboundToMetaSends(outbound({}), TO)).toEqual([]);
    expect(genesysOutboundToMetaSends(outbound({ text: '   ' }), TO)).toEqual([]);
    expect(genesysOutboundToMetaSends(outbound({ type: 'Receipt', text: 'x' }), TO)).toEqual([]);
    expect(genesysOutboundToMetaSends(outbound({ type: 'Event', events: [{ eventType: 'Typing' }] }), TO)).toEqual([]);
  });

  it('inbound audio mapped, then sent back: both sides accepted (round trip of a voice note)', () => {
    const { message, contact } = firstMessage(buildAudioMessage({ phoneNumberId: '1', mediaId: 'v1', mimeType: 'audio/ogg; codecs=opus', voice: true }));
    const inbound = mapValid(message, context(contact));
    const a = inbound.content![0].attachment;
    const sends = sendsFor(outbound({ text: undefined, content: [att(a.mediaType, a.url, a.mime, a.filename)] }));
    expect(sends).toEqual([expect.objectContaining({ type: 'audio' })]);
  });
});
