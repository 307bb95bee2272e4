import { TEMPLATE_BODY_MAX, checkTemplateRequest, parseTemplateCommand, renderTemplate, templateFromMeta, templateParameters, templateSendBody, type Template } from '../src/templates';
import { templateListQuerySchema, templateView } from '../src/template-view';

/** The pure template rules (shared/src/templates.ts, template-view.ts): what the connector, state-manager and tenant-service build on. */
const template = (o: Partial<Template> & Pick<Template, 'name'>): Template => ({
  language: 'en_US',
  templateId: null,
  category: 'UTILITY',
  status: 'APPROVED',
  components: [{ type: 'BODY', text: 'Hello' }],
  ...o,
});

const ORDER_UPDATE = template({
  name: 'order_update',
  templateId: '1234567890123',
  components: [
    { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}' },
    { type: 'BODY', text: 'Hi {{1}}, your order {{2}} ships today.' },
    { type: 'FOOTER', text: 'Acme Ltd' },
    {
      type: 'BUTTONS',
      buttons: [
        { type: 'QUICK_REPLY', text: 'Stop' },
        { type: 'URL', text: 'Track', url: 'https://acme.example/track/{{1}}' },
      ],
    },
  ],
});
const REOPEN = template({ name: 'reopen', components: [{ type: 'BODY', text: '{{1}}' }] });
const NAMED = template({ name: 'named', components: [{ type: 'BODY', text: 'Hi {{first_name}}, {{first_name}} again, about {{topic}}' }] });
const CATALOGUE = [
  ORDER_UPDATE,
  { ...ORDER_UPDATE, language: 'de' },
  REOPEN,
  NAMED,
  template({ name: 'paused_one', status: 'PAUSED' }),
  template({ name: 'with_image', components: [{ type: 'HEADER', format: 'IMAGE' }, { type: 'BODY', text: 'See {{1}}' }] }),
];

describe('templateParameters', () => {
  it('counts the text header, the body and each URL button with a placeholder, in reading order; a repeated named placeholder once', () => {
    expect(templateParameters(ORDER_UPDATE)).toEqual({ header: 1, body: 2, buttons: [{ index: 1, type: 'url', count: 1 }], mediaHeader: false, total: 4 });
    expect(templateParameters(NAMED)).toMatchObject({ body: 2, total: 2 });
    expect(templateParameters(CATALOGUE[5])).toMatchObject({ header: 0, body: 1, mediaHeader: true, total: 1 });
  });
});

describe('checkTemplateRequest', () => {
  const check = (name: string, parameters: string[], language = 'en_US') => checkTemplateRequest(CATALOGUE, { name, language, parameters });

  it('passes an approved template with one text per placeholder', () => {
    expect(check('order_update', ['#4411', 'Ana', '#4411', 'abc'])).toEqual({ ok: true, template: ORDER_UPDATE });
    expect(check('reopen', ['Any text the agent wrote'])).toMatchObject({ ok: true });
  });

  it('names each problem, and in its reason what exists', () => {
    const cases: Array<[ReturnType<typeof check>, string, RegExp]> = [
      [check('no_such', []), 'TEMPLATE_NOT_FOUND', /No template named "no_such"\. Approved templates: order_update \(en_US\): 4 parameter\(s\);.*reopen \(en_US\): 1/],
      [check('order_update', ['a', 'b', 'c', 'd'], 'fr'), 'TEMPLATE_LANGUAGE_NOT_FOUND', /has no fr version; it exists in: en_US, de\./],
      [check('paused_one', []), 'TEMPLATE_NOT_APPROVED', /paused_one \(en_US\) is PAUSED, not APPROVED/],
      [check('with_image', ['x']), 'TEMPLATE_NOT_SENDABLE', /media header/],
      [check('order_update', ['Ana', '#4411']), 'TEMPLATE_PARAMETER_MISMATCH', /takes 4 parameter\(s\) \(1 in the header, 2 in the body, 1 in its buttons\); 2 given\./],
      [check('reopen', ['  ']), 'TEMPLATE_PARAMETER_MISMATCH', /Parameter 1 of template reopen \(en_US\) is empty/],
      [check('reopen', ['x'.repeat(TEMPLATE_BODY_MAX + 1)]), 'TEMPLATE_TOO_LONG', /body would be 1025 characters once filled; WhatsApp allows 1024/],
    ];
    for (const [result, problem, reason] of cases) {
      expect(result).toMatchObject({ ok: false, problem });
      expect(result.ok ? '' : result.reason).toMatch(reason);
    }
    expect(check('reopen', ['x'.repeat(TEMPLATE_BODY_MAX)])).toMatchObject({ ok: true });
  });

  it('says when the account has no approved template at all', () => {
    const result = checkTemplateRequest([template({ name: 'pending', status: 'PENDING' })], { name: 'other', language: 'en', parameters: [] });
    expect(result.ok ? '' : result.reason).toContain('This account has no approved templates.');
  });
});

describe('templateSendBody', () => {
  it('puts each parameter in its component: header, body, then a url button by its index', () => {
    expect(templateSendBody('16505551234', ORDER_UPDATE, ['#4411', 'Ana', '#4411', 'abc'])).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '16505551234',
      type: 'template',
      template: {
        name: 'order_update',
        language: { code: 'en_US' },
        components: [
          { type: 'header', parameters: [{ type: 'text', text: '#4411' }] },
          { type: 'body', parameters: [{ type: 'text', text: 'Ana' }, { type: 'text', text: '#4411' }] },
          { type: 'button', sub_type: 'url', index: '1', parameters: [{ type: 'text', text: 'abc' }] },
        ],
      },
    });
  });

  it('sends no components for a template without parameters', () => {
    expect(templateSendBody('1', template({ name: 'hello' }), []).template).toEqual({ name: 'hello', language: { code: 'en_US' } });
  });
});

describe('renderTemplate', () => {
  it('is what the customer reads: header, body and footer filled in, separated by blank lines', () => {
    expect(renderTemplate(ORDER_UPDATE, ['#4411', 'Ana', '#4411', 'abc'])).toBe('Order #4411\n\nHi Ana, your order #4411 ships today.\n\nAcme Ltd');
    expect(renderTemplate(REOPEN, ['Sorry for the wait: your parcel left today.'])).toBe('Sorry for the wait: your parcel left today.');
  });

  it('fills a named placeholder everywhere it appears with its one value', () => {
    expect(renderTemplate(NAMED, ['Ana', 'billing'])).toBe('Hi Ana, Ana again, about billing');
  });
});

describe('parseTemplateCommand', () => {
  it('reads the name and language of the first line and one parameter per line, trailing empty lines dropped', () => {
    expect(parseTemplateCommand('/template order_update en_US\nAna\n#4411\n\n')).toEqual({ name: 'order_update', language: 'en_US', parameters: ['Ana', '#4411'] });
    expect(parseTemplateCommand('/template reopen en\r\n  Hello there  ')).toEqual({ name: 'reopen', language: 'en', parameters: ['Hello there'] });
    expect(parseTemplateCommand('/template hello en')).toEqual({ name: 'hello', language: 'en', parameters: [] });
    // An empty line inside is a parameter (checkTemplateRequest then says it is empty).
    expect(parseTemplateCommand('/template order_update en_US\nAna\n\n#4411')).toMatchObject({ parameters: ['Ana', '', '#4411'] });
  });

  it('is not a command unless the first line starts with /template as a word', () => {
    for (const text of ['Hello', 'see /template x en', '/templates order en', '/templated order en', '']) expect(parseTemplateCommand(text)).toBeUndefined();
  });

  it('explains the form when the first line is a malformed command', () => {
    const cases: Array<[string, RegExp]> = [
      ['/template', /needs a name and a language/],
      ['/template order_update', /needs a name and a language/],
      ['/template order_update en_US extra', /needs a name and a language/],
      ['/template Order-Update en_US', /"Order-Update" is not a template name/],
      ['/template order_update english', /"english" is not a language code/],
    ];
    for (const [text, message] of cases) {
      const result = parseTemplateCommand(text);
      expect(result && 'error' in result ? result.error : '').toMatch(message);
      expect(result && 'error' in result ? result.error : '').toContain('/template order_update en_US');
    }
  });
});

describe('templateFromMeta', () => {
  it("takes an item of Meta's listing, upper-casing status and category", () => {
    expect(templateFromMeta({ id: '991', name: 'hi', language: 'en', status: 'approved', category: 'marketing', components: [{ type: 'BODY', text: 'Hi' }, 'junk'] })).toEqual({
      name: 'hi',
      language: 'en',
      templateId: '991',
      category: 'MARKETING',
      status: 'APPROVED',
      components: [{ type: 'BODY', text: 'Hi' }],
    });
  });

  it('skips an item without a usable name or language, and keeps no id that is not digits', () => {
    expect(templateFromMeta({ name: 'Bad Name', language: 'en' })).toBeUndefined();
    expect(templateFromMeta({ name: 'ok' })).toBeUndefined();
    expect(templateFromMeta(null)).toBeUndefined();
    expect(templateFromMeta({ id: 'x1', name: 'ok', language: 'en' })).toMatchObject({ templateId: null, status: 'PENDING', components: [] });
  });
});

describe('templateView', () => {
  it('is what both template APIs show: the body text, the parameters per component and the change time', () => {
    expect(templateView({ ...ORDER_UPDATE, updatedAt: new Date('2026-01-02T03:04:05Z') })).toEqual({
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      status: 'APPROVED',
      templateId: '1234567890123',
      body: 'Hi {{1}}, your order {{2}} ships today.',
      parameters: { header: 1, body: 2, buttons: [{ index: 1, type: 'url', count: 1 }], total: 4 },
      updatedAt: '2026-01-02T03:04:05.000Z',
    });
  });

  it('is listed by a status of Meta’s, exactly as Meta writes it', () => {
    expect(templateListQuerySchema.safeParse({ status: 'PAUSED' }).success).toBe(true);
    expect(templateListQuerySchema.safeParse({}).success).toBe(true);
    for (const query of [{ status: 'paused' }, { status: ['APPROVED', 'PAUSED'] }, { other: '1' }]) expect(templateListQuerySchema.safeParse(query).success).toBe(false);
  });
});

/**
 * What a hostile or odd input does to the template rules (issue #11, attack pass): the catalogue
 * Meta lists, the placeholders of a template, the agent's command as a rich-text editor types it.
 */
describe('odd templates and odd commands', () => {
  it('fills positional placeholders by their number, wherever they stand: the text shown is what Meta sends', () => {
    const swapped = template({ name: 'swapped', components: [{ type: 'HEADER', format: 'TEXT', text: 'For {{1}}' }, { type: 'BODY', text: 'Order {{2}} for {{1}}, {{2}} again.' }] });
    expect(templateParameters(swapped)).toMatchObject({ header: 1, body: 2, total: 3 });
    // Meta fills {{1}} with the first body parameter, {{2}} with the second (the simulator does too).
    expect(renderTemplate(swapped, ['Ana', 'Ana', '#4411'])).toBe('For Ana\n\nOrder #4411 for Ana, #4411 again.');
    const tooLong = checkTemplateRequest([swapped], { name: 'swapped', language: 'en_US', parameters: ['A', 'A', 'x'.repeat(600)] });
    expect(tooLong).toMatchObject({ ok: false, problem: 'TEMPLATE_TOO_LONG' });
  });

  it('names each parameter of a template with named placeholders (parameter_name), as Meta requires of them', () => {
    const named = template({ name: 'named', components: [{ type: 'HEADER', format: 'TEXT', text: 'About {{topic}}' }, { type: 'BODY', text: 'Hi {{first_name}}, your {{topic}} is ready.' }] });
    expect(templateSendBody('1', named, ['billing', 'Ana', 'invoice']).template.components).toEqual([
      { type: 'header', parameters: [{ type: 'text', parameter_name: 'topic', text: 'billing' }] },
      { type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: 'Ana' }, { type: 'text', parameter_name: 'topic', text: 'invoice' }] },
    ]);
  });

  it('keeps from Meta’s listing only components it can read: an odd component never breaks the catalogue it joins', () => {
    const odd = templateFromMeta({
      name: 'odd',
      language: 'en_US',
      status: 'APPROVED',
      components: [null, { type: 5 }, { type: 'BODY', text: 7 }, { type: 'HEADER', format: ['TEXT'], text: { a: 1 } }, { type: 'BUTTONS', buttons: 'no' }, { type: 'FOOTER', text: 'ok' }],
    })!;
    expect(odd.components).toEqual([{ type: 'BODY' }, { type: 'HEADER' }, { type: 'BUTTONS' }, { type: 'FOOTER', text: 'ok' }]);
    const buttons = templateFromMeta({ name: 'b', language: 'en', components: [{ type: 'BUTTONS', buttons: [null, 'x', { type: 1, url: 'a' }, { type: 'URL', url: 5 }, { type: 'URL', url: 'https://x/{{1}}' }] }] })!;
    expect(buttons.components).toEqual([{ type: 'BUTTONS', buttons: [{ type: 'URL' }, { type: 'URL', url: 'https://x/{{1}}' }] }]);
    // Every rule runs over such a template without throwing.
    const catalogue = [odd, buttons];
    expect(templateParameters(odd)).toMatchObject({ total: 0 });
    expect(checkTemplateRequest(catalogue, { name: 'none', language: 'en', parameters: [] })).toMatchObject({ ok: false, problem: 'TEMPLATE_NOT_FOUND' });
    expect(renderTemplate(odd, [])).toBe('ok');
    expect(templateView({ ...odd, updatedAt: new Date() }).body).toBe('');
    // What was stored before (a component whose text is not a string) does not break them either.
    const stored = template({ name: 'stored', components: [{ type: 'BODY', text: 7 as never }, { type: 'BUTTONS', buttons: [null as never, { type: 'URL', url: 3 as never }] }] });
    expect(templateParameters(stored)).toMatchObject({ total: 0 });
    expect(checkTemplateRequest([stored], { name: 'none', language: 'en', parameters: [] })).toMatchObject({ ok: false });
  });

  it('takes from Meta’s listing only languages, statuses and categories of Meta’s form', () => {
    expect(templateFromMeta({ name: 'x', language: '<b>en</b>' })).toBeUndefined();
    expect(templateFromMeta({ name: 'x', language: 'en_US\n' })).toBeUndefined();
    expect(templateFromMeta({ name: 'x', language: 'en', status: 'A'.repeat(100_000), category: 'x y' })).toMatchObject({ status: 'PENDING', category: 'UTILITY' });
    expect(templateFromMeta({ name: 'x', language: 'pt_BR', status: 'pending_deletion' })).toMatchObject({ status: 'PENDING_DELETION' });
  });

  it('bounds what a refusal lists, however many templates the catalogue holds', () => {
    const catalogue = Array.from({ length: 5000 }, (_, i) => template({ name: `t${i}_${'x'.repeat(500)}` }));
    const result = checkTemplateRequest(catalogue, { name: 'none', language: 'en_US', parameters: [] });
    const reason = result.ok ? '' : result.reason;
    expect(reason.length).toBeLessThan(6000);
    expect(reason).toMatch(/, and 4990 more\.$/);
  });

  it('bounds what a refusal lists, however many languages a template has', () => {
    const many = Array.from({ length: 500 }, (_, i) => template({ name: 'polyglot', language: `${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}` }));
    const result = checkTemplateRequest(many, { name: 'polyglot', language: 'en_US', parameters: [] });
    expect(result).toMatchObject({ ok: false, problem: 'TEMPLATE_LANGUAGE_NOT_FOUND' });
    const reason = result.ok ? '' : result.reason;
    expect(reason.length).toBeLessThan(300);
    expect(reason).toMatch(/it exists in: aa, ba, .*, and 490 more\.$/);
  });

  it('reads a command typed with a tab, a no-break space, upper case or an invisible mark first, instead of sending it as text', () => {
    const command = { name: 'order_update', language: 'en_US', parameters: ['Ana'] };
    for (const text of [
      '/template\torder_update\ten_US\nAna',
      '/template\u00a0order_update\u00a0en_US\nAna',
      '/TEMPLATE order_update en_US\nAna',
      '/Template order_update en_US\nAna',
      '\u200b/template order_update en_US\nAna',
      '\ufeff/template order_update en_US\nAna',
    ]) {
      expect(parseTemplateCommand(text)).toEqual(command);
    }
    expect(parseTemplateCommand('/Template')).toMatchObject({ error: expect.stringMatching(/needs a name and a language/) });
    // What the agent typed is quoted short: the receipt's reason (cut at 1,000 characters) keeps the form to use.
    for (const text of [`/template ${'X'.repeat(5000)} en`, `/template order_update ${'y'.repeat(5000)}`]) {
      const result = parseTemplateCommand(text);
      const error = result && 'error' in result ? result.error : '';
      expect(error.length).toBeLessThan(400);
      expect(error).toContain('/template order_update en_US');
    }
    for (const text of ['/templates order en', '/templated x', 'x /template a en']) expect(parseTemplateCommand(text)).toBeUndefined();
  });
});
