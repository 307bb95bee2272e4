import { buildImageMessage, buildNumberChangeMessage, buildTextMessage, validateInboundMessage } from '@bridge/simulators';
import { MAX_GENESYS_TEXT, UnmappableMessage } from '../../src/mapping/common';
import { inboundParts, metaMessageToGenesys, numberChangeOf } from '../../src/mapping/inbound';
import type { MetaMessage } from '../../src/mapping/meta-types';
import { PUBLIC, attrs, bsuidMessage, bsuidMessages, context, firstMessage, fixtureMessages, fixtureStatuses, mapFixture, mapValid, messageByKey, type MediaCall } from './fixtures';

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
    expect(plain.text).toBe(
      '[Unsupported WhatsApp message type: unsupported]\n\n[WhatsApp error: Message type unknown: Message type is currently not supported. (Meta #131051)]',
    );
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
    expect(body.text).toBe('Body Text\n\n[WhatsApp error: Media download error: WhatsApp could not download the media. (Meta #131052)]');
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
});

describe('text over Genesys\' size: split, never cut', () => {
  const graphemes = (text: string) => [...new Intl.Segmenter().segment(text)].map((g) => g.segment);

  it('a 4,096-character message with emoji and right-to-left text reaches Genesys whole, in ordered parts', () => {
    const unit = 'שלום! مرحبا 👋🏽 family 👨‍👩‍👧‍👦 flag 🇮🇱 café ';
    let text = '';
    while (text.length + unit.length <= 4096) text += unit;
    text += 'x'.repeat(4096 - text.length);
    const { message, contact } = messageByKey('text');
    const body = mapValid({ ...message, text: { body: text } }, context(contact));
    expect(body.text).toBe(text);

    const parts = inboundParts(body);
    expect(parts.length).toBeGreaterThan(1);
    const written = new Set(graphemes(text));
    for (const part of parts) {
      expect(validateInboundMessage(part as unknown as Record<string, unknown>)).toEqual([]);
      expect(part.text!.length).toBeLessThanOrEqual(MAX_GENESYS_TEXT);
      expect(graphemes(part.text!).filter((g) => !written.has(g))).toEqual([]);
    }
    expect(parts.map((p) => p.text).join(' ')).toBe(text.trimEnd());
    expect(parts.map((p) => p.channel.messageId)).toEqual([message.id, ...parts.slice(1).map((_p, i) => `${message.id}#${i + 2}`)]);
    expect(parts.map((p) => attrs(p).messagePart)).toEqual(parts.map((_p, i) => `${i + 1}/${parts.length}`));
    const times = parts.map((p) => Date.parse(p.channel.time));
    expect(times).toEqual(times.map((_t, i) => times[0] + i));
  });

  it('an unbroken text is cut between characters, never inside one', () => {
    const { message, contact } = messageByKey('text');
    const text = 'a'.repeat(3999) + '👨‍👩‍👧‍👦'.repeat(5);
    const parts = inboundParts(mapValid({ ...message, text: { body: text } }, context(contact)));
    expect(parts.map((p) => p.text)).toEqual(['a'.repeat(3999), '👨‍👩‍👧‍👦'.repeat(5)]);
  });

  it('a long caption: the attachment goes with the first part', () => {
    const { message, contact } = firstMessage(buildImageMessage({ phoneNumberId: '1', mediaId: 'm1', mimeType: 'image/png', caption: 'word '.repeat(1000) }));
    const parts = inboundParts(mapValid(message, context(contact)));
    expect(parts).toHaveLength(2);
    expect(parts[0].content).toHaveLength(1);
    expect(parts[1].content).toBeUndefined();
  });

  it('a body that fits is sent as it is', () => {
    const body = mapFixture('text');
    expect(inboundParts(body)).toEqual([body]);
  });
});

describe('a customer who changed number', () => {
  it('the number change tells the agent both numbers as attributes', () => {
    const { message } = firstMessage(buildNumberChangeMessage({ phoneNumberId: '1', from: '16505550001', profileName: 'Dana', newWaId: '16505550002' }));
    expect(numberChangeOf(message)).toBe('16505550002');
    const body = mapValid(message, { ...context(), waId: '16505550001' });
    expect(body.channel.from).toMatchObject({ id: '16505550001', idType: 'Phone' });
    expect(attrs(body)).toMatchObject({ waId: '16505550002', previousWaId: '16505550001', waSystemType: 'user_changed_number' });
    expect(body.text).toBe('[WhatsApp system message] User Dana changed from 16505550001 to 16505550002');
  });

  it('older webhooks: customer_changed_number with new_wa_id', () => {
    const message = { from: '1', id: 'wamid.S', timestamp: '1700000000', type: 'system', system: { type: 'customer_changed_number', new_wa_id: '2', body: 'x' } };
    expect(numberChangeOf(message)).toBe('2');
    expect(numberChangeOf({ ...message, system: { type: 'customer_identity_changed', body: 'x' } })).toBeUndefined();
  });

  it('writing from the new number: the id Genesys knows continues the conversation, both numbers as attributes', () => {
    const { message, contact } = firstMessage(buildTextMessage({ phoneNumberId: '1', from: '16505550002', profileName: 'Dana', body: 'hi' }));
    const body = mapValid(message, { ...context(contact), genesysId: '16505550001' });
    expect(body.channel.from).toEqual({ id: '16505550001', idType: 'Phone', nickname: 'Dana', firstName: 'Dana' });
    expect(attrs(body)).toMatchObject({ waId: '16505550002', previousWaId: '16505550001' });
    // The same id: nothing to say.
    expect(attrs(mapValid(message, { ...context(contact), genesysId: '16505550002' })).previousWaId).toBeUndefined();
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

describe('customers without a phone number (username and business-scoped user id)', () => {
  it.each(bsuidMessages.map((m) => [m.name, m] as const))('%s maps to a body the Genesys simulator accepts', (_name, fixture) => {
    const body = mapValid(fixture.message, context(fixture.contact));
    expect(body.channel.messageId).toBe(fixture.message.id);
  });

  it('a username-only customer reaches Genesys as Opaque, by their BSUID, the username as nickname', () => {
    const { message, contact } = bsuidMessage('username_only_text');
    expect(message.from).toBeUndefined();
    const body = mapValid(message, { ...context(contact), waId: 'GB.8391027465019283746' });
    expect(body.channel.from).toEqual({ id: 'GB.8391027465019283746', idType: 'Opaque', nickname: 'sheena.nelson', firstName: 'Sheena', lastName: 'Nelson' });
    expect(attrs(body)).toMatchObject({ waUserId: 'GB.8391027465019283746', waUsername: 'sheena.nelson' });
    expect(attrs(body).waId).toBeUndefined();
  });

  it('a username without a profile name is the nickname alone', () => {
    const { message, contact } = bsuidMessage('username_only_no_profile_name');
    expect(mapValid(message, context(contact)).channel.from).toEqual({ id: 'BR.1502576394655843', idType: 'Opaque', nickname: 'kai_92' });
  });

  it('a BSUID of the maximum length is the id as it came', () => {
    const { message, contact } = bsuidMessage('max_length_bsuid_text');
    expect(message.from_user_id).toHaveLength(131);
    expect(mapValid(message, context(contact)).channel.from).toMatchObject({ id: message.from_user_id, idType: 'Opaque' });
  });

  it('first known by BSUID, later writing with a phone number: Genesys keeps knowing them by the BSUID (the same conversation), the number as an attribute', () => {
    const { message, contact } = bsuidMessage('phone_and_username_text');
    const body = mapValid(message, { ...context(contact), waId: 'GB.8391027465019283746' });
    expect(body.channel.from).toMatchObject({ id: 'GB.8391027465019283746', idType: 'Opaque', nickname: 'sheena.nelson' });
    expect(attrs(body)).toMatchObject({ waId: '16505551234', waUserId: 'GB.8391027465019283746' });
    expect(attrs(body).previousWaId).toBeUndefined();
  });

  it('first known by phone number, later writing without it: Genesys keeps knowing them by the number', () => {
    const { message, contact } = bsuidMessage('username_only_text');
    const body = mapValid(message, { ...context(contact), waId: '16505551234' });
    expect(body.channel.from).toMatchObject({ id: '16505551234', idType: 'Phone' });
    expect(attrs(body).waUserId).toBe('GB.8391027465019283746');
  });
});
