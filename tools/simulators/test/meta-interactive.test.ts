import { META_INTERACTIVE_LIMITS, validateSendBody } from '@bridge/simulators';

/** The Meta simulator refuses every interactive body that breaks one of WhatsApp's published limits. */
describe('Meta simulator: interactive message bodies', () => {
  const send = (interactive: Record<string, unknown>) => ({ messaging_product: 'whatsapp', to: '16505551234', type: 'interactive', interactive });
  const x = (n: number) => 'x'.repeat(n);
  const buttons = (titles: string[], ids = titles.map((_, i) => `b${i}`)) => ({
    type: 'button',
    body: { text: 'Pick one' },
    action: { buttons: titles.map((title, i) => ({ type: 'reply', reply: { id: ids[i], title } })) },
  });
  const list = (rows: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) => ({
    type: 'list',
    body: { text: 'Pick one' },
    action: { button: 'Options', sections: [{ rows }] },
    ...extra,
  });
  const row = (i: number, title = `Row ${i}`, description?: string) => ({ id: `r${i}`, title, ...(description === undefined ? {} : { description }) });
  const cta = (parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    type: 'cta_url',
    body: { text: 'See the dates' },
    action: { name: 'cta_url', parameters },
    ...extra,
  });

  it('publishes the limits it enforces', () => {
    expect(META_INTERACTIVE_LIMITS).toMatchObject({ buttons: 3, buttonTitle: 20, rows: 10, rowTitle: 24, rowDescription: 72, headerText: 60, footer: 60, body: 1024 });
  });

  it.each([
    ['3 buttons of 20 characters with an image header and a footer', { ...buttons([x(20), 'B', 'C']), header: { type: 'image', image: { link: 'https://cdn.example/a.png' } }, footer: { text: x(60) } }],
    ['buttons with a 60-character text header and a 256-character id', { ...buttons(['A'], [x(256)]), header: { type: 'text', text: x(60) } }],
    ['buttons with a video header by id', { ...buttons(['A']), header: { type: 'video', video: { id: '123' } } }],
    ['a list of 10 rows over two titled sections', {
      type: 'list',
      body: { text: x(1024) },
      header: { type: 'text', text: 'Menu' },
      action: {
        button: x(20),
        sections: [
          { title: x(24), rows: [1, 2, 3, 4, 5].map((i) => row(i, x(24), x(72))) },
          { title: 'More', rows: [6, 7, 8, 9, 10].map((i) => row(i)) },
        ],
      },
    }],
    ['a list row id of 200 characters', list([{ id: x(200), title: 'A' }])],
    ['a CTA URL button with an image header', cta({ display_text: x(20), url: 'https://example.com/dates' }, { header: { type: 'image', image: { link: 'https://cdn.example/a.png' } } })],
  ])('accepts %s', (_name, interactive) => {
    expect(validateSendBody(send(interactive))).toEqual([]);
  });

  it.each([
    ['4 reply buttons', buttons(['A', 'B', 'C', 'D']), /1 to 3 buttons/],
    ['a button title of 21 characters', buttons([x(21)]), /title'\] must be at most 20/],
    ['a button id of 257 characters', buttons(['A'], [x(257)]), /id'\] must be at most 256/],
    ['two buttons with the same id', buttons(['A', 'B'], ['same', 'same']), /id'\] must be unique/],
    ['two buttons with the same title', buttons(['A', 'A']), /title'\] must be unique/],
    ['a header text of 61 characters', { ...buttons(['A']), header: { type: 'text', text: x(61) } }, /header'\]\['text'\] must be at most 60/],
    ['an image header without link or id', { ...buttons(['A']), header: { type: 'image', image: {} } }, /exactly one of link or id/],
    ['a footer of 61 characters', { ...buttons(['A']), footer: { text: x(61) } }, /footer'\]\['text'\] must be at most 60/],
    ['a body of 1025 characters', { ...buttons(['A']), body: { text: x(1025) } }, /body'\]\['text'\] must be at most 1024/],
    ['no body', { ...buttons(['A']), body: undefined }, /body'\]\['text'\] is required/],
    ['11 list rows', list(Array.from({ length: 11 }, (_, i) => row(i))), /at most 10 rows in all/],
    ['11 rows over two sections', {
      type: 'list',
      body: { text: 'Pick' },
      action: { button: 'Options', sections: [{ title: 'A', rows: [0, 1, 2, 3, 4, 5].map((i) => row(i)) }, { title: 'B', rows: [6, 7, 8, 9, 10].map((i) => row(i)) }] },
    }, /at most 10 rows in all/],
    ['a row title of 25 characters', list([row(1, x(25))]), /title'\] must be at most 24/],
    ['a row description of 73 characters', list([row(1, 'A', x(73))]), /description'\] must be at most 72/],
    ['a row id of 201 characters', list([{ id: x(201), title: 'A' }]), /id'\] must be at most 200/],
    ['two rows with the same id', list([{ id: 'r', title: 'A' }, { id: 'r', title: 'B' }]), /must be unique/],
    ['a list button label of 21 characters', { ...list([row(1)]), action: { button: x(21), sections: [{ rows: [row(1)] }] } }, /\['button'\] must be at most 20/],
    ['two sections, one without a title', {
      type: 'list',
      body: { text: 'Pick' },
      action: { button: 'Options', sections: [{ title: 'A', rows: [row(1)] }, { rows: [row(2)] }] },
    }, /sections'\]\[1\]\['title'\] is required/],
    ['a section title of 25 characters', { ...list([row(1)]), action: { button: 'Options', sections: [{ title: x(25), rows: [row(1)] }] } }, /title'\] must be at most 24/],
    ['an image header on a list', list([row(1)], { header: { type: 'image', image: { link: 'https://cdn.example/a.png' } } }), /header'\]\['type'\] must be one of text/],
    ['a CTA URL button without its name', { ...cta({ display_text: 'See', url: 'https://example.com' }), action: { parameters: { display_text: 'See', url: 'https://example.com' } } }, /name'\] must be 'cta_url'/],
    ['a CTA URL display text of 21 characters', cta({ display_text: x(21), url: 'https://example.com' }), /display_text'\] must be at most 20/],
    ['a CTA URL that is not http(s)', cta({ display_text: 'See', url: 'javascript:alert(1)' }), /url'\] must be an http\(s\) URL/],
    ['a CTA URL without parameters', { ...cta({}), action: { name: 'cta_url' } }, /parameters'\] is required/],
  ])('refuses %s', (_name, interactive, problem) => {
    const errors = validateSendBody(send(interactive as Record<string, unknown>));
    expect(errors.join('\n')).toMatch(problem);
  });
});
