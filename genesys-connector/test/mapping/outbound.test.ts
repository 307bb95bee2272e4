import { buildAudioMessage, validateSendBody } from '@bridge/simulators';
import type { GenesysOutboundMessage } from '../../src/mapping/genesys-types';
import type { MetaSendBody } from '../../src/mapping/meta-types';
import { UnmappableMessage } from '../../src/mapping/common';
import { addressedSend, genesysOutboundToMetaSends } from '../../src/mapping/outbound';
import { context, firstMessage, mapValid } from './fixtures';

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

describe('addressing a send: a phone number in to, a business-scoped user id in recipient', () => {
  const BSUID = `US.${'a1B2c3D4'.repeat(16)}`;
  const PARENT = `US.ENT.${'7'.repeat(128)}`;

  it('keeps a phone number in to', () => {
    const [send] = genesysOutboundToMetaSends(outbound({ text: 'Hi' }), TO);
    expect(addressedSend(send)).toEqual(send);
  });

  it.each([
    ['a BSUID of the maximum length', BSUID],
    ['a parent BSUID of the maximum length', PARENT],
  ])('moves %s to recipient, with no to, in a body Meta (the simulator) accepts', (_name, id) => {
    for (const send of genesysOutboundToMetaSends(outbound({ text: 'Hi', content: [att('Image', 'https://cdn.example.com/a.png', 'image/png')] }), id)) {
      const wire = addressedSend(send);
      expect(wire).not.toHaveProperty('to');
      expect(wire.recipient).toBe(id);
      expect(validateSendBody(wire as unknown as Record<string, unknown>)).toEqual([]);
    }
  });

  it('refuses an id that is neither (UnmappableMessage)', () => {
    const [send] = genesysOutboundToMetaSends(outbound({ text: 'Hi' }), TO);
    expect(() => addressedSend({ ...send, to: 'us.123' })).toThrow(UnmappableMessage);
  });
});
