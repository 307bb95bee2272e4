import { buildButtonMessage, buildButtonReplyMessage, buildListReplyMessage, buildTextMessage, validateSendBody } from '@bridge/simulators';
import type { GenesysOutboundContent, GenesysOutboundMessage } from '../../src/mapping/genesys-types';
import type { MetaSendBody } from '../../src/mapping/meta-types';
import { genesysOutboundPlan, type OutboundPlan } from '../../src/mapping/outbound';
import { DEFAULT_LINK_LABEL, DEFAULT_PROMPT, LIST_BUTTON_LABEL, NUMBERED_HINT, type OfferedChoice } from '../../src/mapping/structured';
import { attrs, context, firstMessage, mapValid } from './fixtures';

const TO = '16505551234';

/**
 * A bot message as Genesys posts it to the outbound webhook (the shape of go-gcloudcx's
 * testdata/openmessaging-inbound-quickreply.json, a recorded Open Messaging delivery).
 */
function botMessage(content: GenesysOutboundContent[], text?: string): GenesysOutboundMessage {
  return {
    id: 'c327c2078ca056db130c55ce648d9fa2',
    channel: {
      id: '73cb7fb7-c2db-4996-88f3-0a83a4fea1da',
      platform: 'Open',
      type: 'Private',
      messageId: 'c327c2078ca056db130c55ce648d9fa2',
      from: { nickname: 'GUM-INTEGRATION', id: '73cb7fb7-c2db-4996-88f3-0a83a4fea1da', idType: 'Opaque' },
      to: { id: TO },
      time: '2025-04-10T13:52:08.807Z',
    },
    conversationId: 'd06cb41e-f938-4dcf-b823-c8af1a39d7e5',
    originatingEntity: 'Bot',
    direction: 'Outbound',
    type: 'Structured',
    ...(text === undefined ? {} : { text }),
    content,
  };
}

const qr = (text: string, payload = text): GenesysOutboundContent => ({ contentType: 'QuickReply', quickReply: { text, payload, action: 'Message' } });
const card = (c: Record<string, unknown>): GenesysOutboundContent => ({ contentType: 'Card', card: c });
const postback = (text: string, payload = text) => ({ type: 'Postback', text, payload });
const link = (text: string, url: string) => ({ type: 'Link', text, url });

/** Maps, and fails the test if the Meta simulator would refuse any send. */
function plan(msg: GenesysOutboundMessage): OutboundPlan {
  const result = genesysOutboundPlan(msg, TO);
  for (const send of result.sends) expect({ send, errors: validateSendBody(send as unknown as Record<string, unknown>) }).toEqual({ send, errors: [] });
  return result;
}

type Interactive = Extract<MetaSendBody, { type: 'interactive' }>['interactive'];
const interactiveOf = (send: MetaSendBody): Interactive => {
  if (send.type !== 'interactive') throw new Error(`not interactive: ${send.type}`);
  return send.interactive;
};

/** Everything the customer can read in the sends: bodies, captions, headers, buttons, rows, links. */
function visibleText(sends: MetaSendBody[]): string {
  const parts: string[] = [];
  for (const s of sends) {
    if (s.type === 'text') parts.push(s.text.body);
    else if (s.type === 'interactive') {
      const i = s.interactive;
      if (i.header?.type === 'text') parts.push(i.header.text);
      parts.push(i.body.text);
      if (i.type === 'button') parts.push(...i.action.buttons.map((b) => b.reply.title));
      if (i.type === 'list') for (const r of i.action.sections.flatMap((sec) => sec.rows)) parts.push(r.title, r.description ?? '');
      if (i.type === 'cta_url') parts.push(i.action.parameters.display_text, i.action.parameters.url);
    } else {
      const media = (s as unknown as Record<string, { caption?: string }>)[s.type];
      parts.push(media.caption ?? '');
    }
  }
  return parts.join('\n');
}

/** Every option offered is in the choices, and its title (whole) is visible: nothing dropped. */
function expectAllOffered(result: OutboundPlan, titles: string[]): void {
  expect(result.choices.map((c) => c.title)).toEqual(titles);
  const visible = visibleText(result.sends);
  for (const title of titles) expect(visible).toContain(title);
}

describe('quick replies → reply buttons, a list, or a numbered text', () => {
  it('the recorded Genesys quick reply message → one reply buttons message, the payloads as ids', () => {
    const result = plan(botMessage([qr('Yes'), qr('No')], 'Do you want to proceed?'));
    expect(result.sends).toEqual([
      {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: TO,
        type: 'interactive',
        interactive: {
          type: 'button',
          body: { text: 'Do you want to proceed?' },
          action: {
            buttons: [
              { type: 'reply', reply: { id: 'Yes', title: 'Yes' } },
              { type: 'reply', reply: { id: 'No', title: 'No' } },
            ],
          },
        },
      },
    ]);
    expect(result.choices).toEqual([
      { id: 'Yes', title: 'Yes', payload: 'Yes', part: 1 },
      { id: 'No', title: 'No', payload: 'No', part: 1 },
    ]);
  });

  it('3 titles of exactly 20 characters are still buttons', () => {
    const titles = ['a'.repeat(20), 'b'.repeat(20), 'c'.repeat(20)];
    const result = plan(botMessage(titles.map((t, i) => qr(t, `p${i}`)), 'Pick'));
    expect(interactiveOf(result.sends[0]).type).toBe('button');
    expectAllOffered(result, titles);
  });

  it('4 options → a list of 4 rows', () => {
    const titles = ['Billing', 'Sales', 'Support', 'Something else'];
    const result = plan(botMessage(titles.map((t) => qr(t, t.toLowerCase())), 'How can we help?'));
    expect(result.sends).toHaveLength(1);
    const list = interactiveOf(result.sends[0]);
    expect(list).toMatchObject({ type: 'list', body: { text: 'How can we help?' }, action: { button: LIST_BUTTON_LABEL } });
    expect(list.type === 'list' && list.action.sections[0].rows).toEqual(titles.map((t) => ({ id: t.toLowerCase(), title: t })));
    expectAllOffered(result, titles);
  });

  it('a title of 21 characters (too long for a button, not for a row) → a list, not a cut title', () => {
    const titles = ['Yes', 'I would like to know'.padEnd(21, '!')];
    const result = plan(botMessage(titles.map((t) => qr(t)), 'Pick'));
    expect(interactiveOf(result.sends[0]).type).toBe('list');
    expectAllOffered(result, titles);
  });

  it('two options with the same title (WhatsApp needs distinct button titles) → a list, both kept', () => {
    const result = plan(botMessage([qr('Book', 'book-monday'), qr('Book', 'book-tuesday')], 'Pick'));
    const list = interactiveOf(result.sends[0]);
    expect(list.type === 'list' && list.action.sections[0].rows.map((r) => r.id)).toEqual(['book-monday', 'book-tuesday']);
  });

  it('exactly 10 options with 24-character titles → a list of 10', () => {
    const titles = Array.from({ length: 10 }, (_, i) => `Option number ${i}`.padEnd(24, '.'));
    const result = plan(botMessage(titles.map((t, i) => qr(t, `p${i}`)), 'Pick'));
    const list = interactiveOf(result.sends[0]);
    expect(list.type === 'list' && list.action.sections[0].rows).toHaveLength(10);
    expectAllOffered(result, titles);
  });

  it('11 options → a numbered text; each choice remembers its number', () => {
    const titles = Array.from({ length: 11 }, (_, i) => `Store ${i + 1}`);
    const result = plan(botMessage(titles.map((t, i) => qr(t, `store-${i + 1}`)), 'Which store?'));
    expect(result.sends).toHaveLength(1);
    expect(result.sends[0].type).toBe('text');
    const body = result.sends[0].type === 'text' ? result.sends[0].text.body : '';
    expect(body).toBe(['Which store?', titles.map((t, i) => `${i + 1}. ${t}`).join('\n'), NUMBERED_HINT].join('\n\n'));
    expect(result.choices.map((c) => [c.number, c.payload, c.part])).toEqual(titles.map((_, i) => [i + 1, `store-${i + 1}`, 1]));
    expectAllOffered(result, titles);
  });

  it('a title over 24 characters → a numbered text with the whole title', () => {
    const long = 'I would like to speak to a person, please';
    const result = plan(botMessage([qr('Yes'), qr(long, 'agent')], 'Anything else?'));
    expect(result.sends.map((s) => s.type)).toEqual(['text']);
    expectAllOffered(result, ['Yes', long]);
    expect(result.choices[1]).toMatchObject({ number: 2, payload: 'agent' });
  });

  it('quick replies without text get a prompt (WhatsApp requires a body); QuickReplyV2 titles become the header', () => {
    expect(interactiveOf(plan(botMessage([qr('A'), qr('B')])).sends[0]).body.text).toBe(DEFAULT_PROMPT);
    const v2 = plan(botMessage([{ contentType: 'QuickReplyV2', quickReplyV2: { title: 'Your size?', actions: [{ text: 'S', payload: 's' }, { text: 'M', payload: 'm' }] } }]));
    expect(interactiveOf(v2.sends[0])).toMatchObject({ type: 'button', header: { type: 'text', text: 'Your size?' }, body: { text: DEFAULT_PROMPT } });
    expect(v2.choices.map((c) => c.payload)).toEqual(['s', 'm']);
  });

  it('a text longer than a body (1024) goes first as text; the body keeps its end; nothing is lost', () => {
    const words = Array.from({ length: 600 }, (_, i) => `w${i}`);
    const text = words.join(' ');
    const result = plan(botMessage([qr('OK')], text));
    expect(result.sends.map((s) => s.type)).toEqual(['text', 'interactive']);
    const lead = result.sends[0].type === 'text' ? result.sends[0].text.body : '';
    const body = interactiveOf(result.sends[1]).body.text;
    expect(body.length).toBeLessThanOrEqual(1024);
    expect(`${lead} ${body}`.split(/\s+/)).toEqual(words);
    expect(result.choices[0].part).toBe(2);
  });

  it('payloads that cannot be ids (too long, repeated, or shaped like ours) get option-<n>, the payload kept in the choices', () => {
    const long = 'x'.repeat(201);
    const result = plan(botMessage([qr('A', long), qr('B', 'same'), qr('C', 'same'), qr('D', 'option-7'), qr('E', 'e')], 'Pick'));
    expect(result.choices.map((c) => [c.id, c.payload])).toEqual([
      ['option-1', long],
      ['option-2', 'same'],
      ['option-3', 'same'],
      ['option-4', 'option-7'],
      ['e', 'e'],
    ]);
  });

  it('attachments go before the choice message', () => {
    const result = plan(
      botMessage([{ contentType: 'Attachment', attachment: { mediaType: 'Image', url: 'https://cdn.example/menu.png', mime: 'image/png' } }, qr('Yes'), qr('No')], 'Like it?'),
    );
    expect(result.sends.map((s) => s.type)).toEqual(['image', 'interactive']);
    expect(result.choices.every((c) => c.part === 2)).toBe(true);
  });
});

describe('cards and carousels', () => {
  it('a card with an image and postbacks → reply buttons under an image header, title and description in the body', () => {
    const result = plan(
      botMessage([card({ title: 'Red shoes', description: 'Size 38-44', image: 'https://cdn.example/red.png', actions: [postback('Buy', 'buy-red'), postback('Details', 'details-red')] })]),
    );
    expect(result.sends).toHaveLength(1);
    expect(interactiveOf(result.sends[0])).toEqual({
      type: 'button',
      header: { type: 'image', image: { link: 'https://cdn.example/red.png' } },
      body: { text: 'Red shoes\nSize 38-44' },
      action: { buttons: [{ type: 'reply', reply: { id: 'buy-red', title: 'Buy' } }, { type: 'reply', reply: { id: 'details-red', title: 'Details' } }] },
    });
  });

  it('a card without media: its title (≤ 60) is the text header', () => {
    const result = plan(botMessage([card({ title: 'Delivery', description: 'When?', actions: [postback('Today'), postback('Tomorrow')] })]));
    expect(interactiveOf(result.sends[0])).toMatchObject({ header: { type: 'text', text: 'Delivery' }, body: { text: 'When?' } });
  });

  it('a card with one link and no postbacks → a call-to-action URL button (the recorded Genesys card)', () => {
    // go-gcloudcx testdata/normalized-message-structured-card.json: an empty title, a description, one Link.
    const result = plan(botMessage([card({ title: '', description: 'This is a test description', actions: [link('This is a link action', 'http://www.acme.com')] })]));
    expect(result.sends).toHaveLength(1);
    expect(interactiveOf(result.sends[0])).toEqual({
      type: 'cta_url',
      body: { text: 'This is a test description\nThis is a link action' },
      action: { name: 'cta_url', parameters: { display_text: DEFAULT_LINK_LABEL, url: 'http://www.acme.com' } },
    });
    expect(result.choices).toEqual([]);
  });

  it('a card with an image and a short link → cta_url with the image header and the link text as the label', () => {
    const result = plan(botMessage([card({ title: 'Track your parcel', image: 'https://cdn.example/box.png', actions: [link('Track', 'https://acme.example/track/1')] })]));
    expect(interactiveOf(result.sends[0])).toEqual({
      type: 'cta_url',
      header: { type: 'image', image: { link: 'https://cdn.example/box.png' } },
      body: { text: 'Track your parcel' },
      action: { name: 'cta_url', parameters: { display_text: 'Track', url: 'https://acme.example/track/1' } },
    });
  });

  it('a card with two links → two call-to-action messages', () => {
    const result = plan(botMessage([card({ title: 'Help', actions: [link('FAQ', 'https://acme.example/faq'), link('Contact', 'https://acme.example/contact')] })]));
    expect(result.sends.map((s) => interactiveOf(s).type)).toEqual(['cta_url', 'cta_url']);
    expect(visibleText(result.sends)).toContain('https://acme.example/contact');
  });

  it('postbacks and a link together: buttons, the link as a line of the body', () => {
    const result = plan(botMessage([card({ title: 'Plan', actions: [postback('Upgrade'), link('Compare plans', 'https://acme.example/plans')] })]));
    expect(result.sends).toHaveLength(1);
    const buttons = interactiveOf(result.sends[0]);
    expect(buttons.type).toBe('button');
    expect(buttons.body.text).toBe('Compare plans: https://acme.example/plans');
  });

  it('a card with 5 postbacks → its image first, then a list with the title as header', () => {
    const result = plan(botMessage([card({ title: 'Pick a colour', image: 'https://cdn.example/c.png', actions: ['Red', 'Green', 'Blue', 'Black', 'White'].map((c) => postback(c)) })]));
    expect(result.sends.map((s) => s.type)).toEqual(['image', 'interactive']);
    expect(interactiveOf(result.sends[1])).toMatchObject({ type: 'list', header: { type: 'text', text: 'Pick a colour' } });
    expectAllOffered(result, ['Red', 'Green', 'Blue', 'Black', 'White']);
  });

  it('a default action that no button offers is offered too', () => {
    const result = plan(botMessage([card({ title: 'Shoes', defaultAction: postback('View all', 'all'), actions: [postback('Buy')] })]));
    expect(result.choices.map((c) => c.payload)).toEqual(['Buy', 'all']);
  });

  it('the recorded Genesys carousel → one message per card; every option and link kept', () => {
    // go-gcloudcx testdata/normalized-message-structured-carousel.json
    const cards = [1, 2, 3].map((n) => ({
      title: `Card ${n}`,
      description: `Description ${n}`,
      ...(n < 3 ? { image: `https://www.acme.com/image${n}.png` } : { video: 'https://www.acme.com/video3.mp4' }),
      actions: [postback(`Option${3 * n - 2}`), postback(`Option${3 * n - 1}`), link(`Option${3 * n}`, `https://www.acme.com/option${3 * n}`)],
    }));
    const result = plan(botMessage([{ contentType: 'Carousel', carousel: { cards } }]));
    expect(result.sends.map((s) => interactiveOf(s).type)).toEqual(['button', 'button', 'button']);
    expect(interactiveOf(result.sends[2]).header).toEqual({ type: 'video', video: { link: 'https://www.acme.com/video3.mp4' } });
    expect(result.choices.map((c) => [c.title, c.part])).toEqual([
      ['Option1', 1],
      ['Option2', 1],
      ['Option4', 2],
      ['Option5', 2],
      ['Option7', 3],
      ['Option8', 3],
    ]);
    const visible = visibleText(result.sends);
    for (const n of [3, 6, 9]) expect(visible).toContain(`https://www.acme.com/option${n}`);
  });

  it('numbered cards of a carousel number their choices across the whole message', () => {
    const long = (n: number) => `A very long option title number ${n}`;
    const result = plan(botMessage([{ contentType: 'Carousel', carousel: { cards: [1, 2].map((c) => ({ title: `Card ${c}`, actions: [postback(long(2 * c - 1)), postback(long(2 * c))] })) } }]));
    expect(result.sends.map((s) => s.type)).toEqual(['text', 'text']);
    expect(result.choices.map((c) => [c.number, c.part])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 2],
    ]);
  });
});

describe('list and date pickers', () => {
  it('a list picker (ListTemplate) → a list with descriptions; a URL item becomes a link line', () => {
    const result = plan(
      botMessage([
        {
          contentType: 'ListTemplate',
          list: {
            title: 'Our branches',
            description: 'Where would you like to go?',
            components: [
              { title: 'Berlin', description: 'Mitte, open until 20:00', actions: { textback: 'berlin' } },
              { title: 'Paris', description: 'Marais', actions: { textback: 'paris' } },
              { title: 'All branches', actions: { url: 'https://acme.example/branches' } },
            ],
          },
        },
      ]),
    );
    const list = interactiveOf(result.sends[0]);
    expect(list).toMatchObject({ type: 'list', header: { type: 'text', text: 'Our branches' }, body: { text: 'Where would you like to go?\nAll branches: https://acme.example/branches' } });
    expect(list.type === 'list' && list.action.sections[0].rows).toEqual([
      { id: 'berlin', title: 'Berlin', description: 'Mitte, open until 20:00' },
      { id: 'paris', title: 'Paris', description: 'Marais' },
    ]);
  });

  it('a date picker → a list of the times; the answer’s payload is the dateTime', () => {
    // go-gcloudcx testdata/normalized-message-structured-datepicker.json
    const result = plan(
      botMessage([
        {
          contentType: 'DatePicker',
          datePicker: {
            title: 'When would you be available?',
            subtitle: 'Pick a date and time',
            availableTimes: [
              { duration: 1800, dateTime: '2025-05-30T12:00:00Z' },
              { duration: 900, dateTime: '2025-06-30T13:00:00Z' },
            ],
          },
        },
      ]),
    );
    const list = interactiveOf(result.sends[0]);
    expect(list.type === 'list' && list.action.sections[0].rows).toEqual([
      { id: '2025-05-30T12:00:00Z', title: '2025-05-30 12:00 UTC', description: '30 min' },
      { id: '2025-06-30T13:00:00Z', title: '2025-06-30 13:00 UTC', description: '15 min' },
    ]);
  });
});

describe('never an invalid send, never a dropped option', () => {
  it('holds for every number of options from 1 to 14, title lengths around each limit, with and without descriptions', () => {
    for (let n = 1; n <= 14; n++) {
      for (const length of [1, 20, 21, 24, 25, 80]) {
        const titles = Array.from({ length: n }, (_, i) => `${i}`.padEnd(length, 'x'));
        const result = plan(botMessage(titles.map((t, i) => qr(t, `p-${i}`)), 'Pick'));
        expectAllOffered(result, titles);
        const list = plan(botMessage([{ contentType: 'ListTemplate', list: { components: titles.map((t, i) => ({ title: t, description: 'd'.repeat(length * 3), actions: { textback: `p-${i}` } })) } }]));
        expectAllOffered(list, titles);
        expect(visibleText(list.sends)).toContain('d'.repeat(length * 3));
      }
    }
  });
});

describe('the customer’s answer comes back with its payload', () => {
  const inbound = (payload: ReturnType<typeof buildTextMessage>, choices?: OfferedChoice[]) => {
    const { message, contact } = firstMessage(payload);
    return mapValid(message, { ...context(contact), choices });
  };
  const base = { phoneNumberId: '106540352242922', from: TO };

  it('a reply button tapped: its title as text, the payload in the custom attributes', () => {
    const result = plan(botMessage([qr('Yes', 'confirm'), qr('No', 'cancel')], 'Proceed?'));
    const button = interactiveOf(result.sends[0]);
    const tapped = button.type === 'button' ? button.action.buttons[0].reply : { id: '', title: '' };
    const body = inbound(buildButtonReplyMessage({ ...base, replyId: tapped.id, title: tapped.title }));
    expect(body.text).toBe('Yes');
    expect(attrs(body)).toMatchObject({ replyType: 'button_reply', replyId: 'confirm', replyPayload: 'confirm' });
  });

  it('a list row chosen whose id was made up: the payload comes from the choices', () => {
    const long = 'checkout?cart=' + 'c'.repeat(250);
    const result = plan(botMessage(['A', 'B', 'C', 'D'].map((t, i) => qr(t, i === 2 ? long : t)), 'Pick'));
    const list = interactiveOf(result.sends[0]);
    const row = list.type === 'list' ? list.action.sections[0].rows[2] : { id: '', title: '' };
    expect(row.id).toBe('option-3');
    const body = inbound(buildListReplyMessage({ ...base, replyId: row.id, title: row.title }), result.choices);
    expect(body.text).toBe('C');
    expect(attrs(body)).toMatchObject({ replyType: 'list_reply', replyId: 'option-3', replyPayload: long.slice(0, 1000) });
    // Without the choices, a made-up id has no known payload: it is not passed off as one.
    const blind = inbound(buildListReplyMessage({ ...base, replyId: row.id, title: row.title }));
    expect(attrs(blind).replyId).toBe('option-3');
    expect(attrs(blind).replyPayload).toBeUndefined();
  });

  it('a number typed to answer a numbered text → the choice’s title and payload', () => {
    const titles = Array.from({ length: 12 }, (_, i) => `Store ${i + 1}`);
    const result = plan(botMessage(titles.map((t, i) => qr(t, `store-${i + 1}`)), 'Which store?'));
    for (const typed of ['7', ' 7. ', '#7', '7)']) {
      const body = inbound(buildTextMessage({ ...base, body: typed }), result.choices);
      expect(body.text).toBe('Store 7');
      expect(attrs(body)).toMatchObject({ replyType: 'typed_number', replyId: 'store-7', replyPayload: 'store-7', typedText: typed });
    }
    // Out of range, not only a number, or no numbered choices known: the text as written.
    expect(inbound(buildTextMessage({ ...base, body: '13' }), result.choices).text).toBe('13');
    expect(inbound(buildTextMessage({ ...base, body: '7 please' }), result.choices).text).toBe('7 please');
    expect(attrs(inbound(buildTextMessage({ ...base, body: '7' }))).replyType).toBeUndefined();
    // Digits as phones type them in other scripts (Arabic-Indic, Persian, Devanagari, full-width),
    // leading zeros and any Unicode space: the same choice, typedText as written.
    for (const typed of ['\u0667', '\u06f7', '\u096d', '\uff17', '07', '\u00a07\u3000', '#\u0660\u0667.']) {
      const body = inbound(buildTextMessage({ ...base, body: typed }), result.choices);
      expect([typed, body.text]).toEqual([typed, 'Store 7']);
      expect(attrs(body)).toMatchObject({ replyType: 'typed_number', replyPayload: 'store-7', typedText: typed });
    }
    expect(inbound(buildTextMessage({ ...base, body: '\u0661\u0663' }), result.choices).text).toBe('\u0661\u0663');
    // Buttons offer no numbers: a typed "1" after them is just "1".
    const buttons = plan(botMessage([qr('Yes'), qr('No')], 'Proceed?'));
    expect(inbound(buildTextMessage({ ...base, body: '1' }), buttons.choices).text).toBe('1');
  });

  it('a template quick reply button (type "button"): its payload as replyPayload (and buttonPayload, as before)', () => {
    const body = inbound(buildButtonMessage({ ...base, payload: 'unsubscribe', text: 'Stop promotions' }));
    expect(body.text).toBe('Stop promotions');
    expect(attrs(body)).toMatchObject({ replyType: 'button', replyPayload: 'unsubscribe', buttonPayload: 'unsubscribe' });
  });
});
