import { createHmac } from 'node:crypto';
import { startMetaSimulator, type MetaSimulator, type MetaTemplateComponent } from '@bridge/simulators';
import { post, startReceiver, type Receiver } from './helpers';

describe('Meta simulator: templates', () => {
  let sim: MetaSimulator;
  const WABA_A = '102290129340398';
  const WABA_B = '209911223344556';
  const NUM_A = { phoneNumberId: '106540352242922', accessToken: 'EAAG-token-a', wabaId: WABA_A };
  const NUM_A2 = { phoneNumberId: '106540352242944', accessToken: 'EAAG-token-a2', wabaId: WABA_A };
  const NUM_B = { phoneNumberId: '106540352242933', accessToken: 'EAAG-token-b', wabaId: WABA_B };
  const NO_WABA = { phoneNumberId: '106540352242955', accessToken: 'EAAG-token-none' };
  const TO = '16505551234';

  const ORDER_UPDATE: MetaTemplateComponent[] = [
    { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}' },
    { type: 'BODY', text: 'Hi {{1}}, your order {{2}} ships today.' },
    { type: 'FOOTER', text: 'Acme Ltd' },
    {
      type: 'BUTTONS',
      buttons: [
        { type: 'URL', text: 'Track', url: 'https://acme.example/track/{{1}}' },
        { type: 'QUICK_REPLY', text: 'Stop' },
      ],
    },
  ];

  beforeAll(async () => {
    sim = await startMetaSimulator({ retryDelayMs: 10 });
    for (const n of [NUM_A, NUM_A2, NUM_B, NO_WABA]) sim.addNumber(n);
    sim.addTemplate({ wabaId: WABA_A, name: 'order_update', language: 'en_US', components: ORDER_UPDATE });
    sim.addTemplate({ wabaId: WABA_A, name: 'order_update', language: 'de', body: 'Hallo {{1}}, Bestellung {{2}} ist unterwegs.' });
    sim.addTemplate({ wabaId: WABA_A, name: 'reopen', language: 'en_US', body: '{{1}}' });
    sim.addTemplate({
      wabaId: WABA_A,
      name: 'invoice',
      language: 'en_US',
      components: [{ type: 'HEADER', format: 'DOCUMENT' }, { type: 'BODY', text: 'Your invoice is attached.' }],
    });
    sim.addTemplate({ wabaId: WABA_A, name: 'promo', language: 'en_US', category: 'MARKETING', body: 'Sale!', status: 'PENDING' });
    sim.addTemplate({ wabaId: WABA_B, name: 'welcome', language: 'en', body: 'Welcome' });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const list = async (wabaId: string, query = '', token = NUM_A.accessToken) => {
    const res = await fetch(`${sim.graphUrl}/${wabaId}/message_templates${query}`, { headers: token ? auth(token) : {} });
    return { status: res.status, json: (await res.json()) as any };
  };
  const sendTemplate = (template: unknown, num: { phoneNumberId: string; accessToken: string } = NUM_A) =>
    post(`${sim.graphUrl}/${num.phoneNumberId}/messages`, { messaging_product: 'whatsapp', to: TO, type: 'template', template }, auth(num.accessToken));
  const text = (t: string) => ({ type: 'text', text: t });
  const orderUpdate = (components: unknown[], language = 'en_US') => ({ name: 'order_update', language: { code: language }, components });
  const fullOrderUpdate = () =>
    orderUpdate([
      { type: 'header', parameters: [text('#123')] },
      { type: 'body', parameters: [text('Ana'), text('#123')] },
      { type: 'button', sub_type: 'url', index: '0', parameters: [text('123')] },
    ]);

  describe('the catalogue, GET /{waba-id}/message_templates', () => {
    it('pages through a WABA’s templates with limit, paging.cursors and paging.next, in the order added', async () => {
      const names: string[] = [];
      let url: string | undefined = `${sim.graphUrl}/${WABA_A}/message_templates?fields=name,language,status,category,components&limit=2`;
      const pages: any[] = [];
      while (url) {
        const res = await fetch(url, { headers: auth(NUM_A.accessToken) });
        expect(res.status).toBe(200);
        const page = (await res.json()) as any;
        pages.push(page);
        names.push(...page.data.map((t: any) => `${t.name}/${t.language}`));
        url = page.paging.next;
      }
      expect(names).toEqual(['order_update/en_US', 'order_update/de', 'reopen/en_US', 'invoice/en_US', 'promo/en_US']);
      expect(pages.map((p) => p.data.length)).toEqual([2, 2, 1]);
      expect(pages[0].data[0]).toEqual({
        name: 'order_update',
        language: 'en_US',
        status: 'APPROVED',
        category: 'UTILITY',
        components: ORDER_UPDATE,
        id: expect.stringMatching(/^\d+$/),
      });
      expect(pages[0].paging.cursors).toEqual({ before: expect.any(String), after: expect.any(String) });
      expect(pages[0].paging.previous).toBeUndefined();
      expect(pages[1].paging.previous).toContain('before=');
      expect(pages[2].data[0]).toMatchObject({ name: 'promo', status: 'PENDING', category: 'MARKETING' });
      // Any number of the WABA may read it; `before` walks back.
      const back = await list(WABA_A, `?limit=2&before=${pages[2].paging.cursors.before}`, NUM_A2.accessToken);
      expect(back.json.data.map((t: any) => t.name)).toEqual(['reopen', 'invoice']);
    });

    it('serves only the fields asked for (and always id), every field by default, and an empty WABA as no data', async () => {
      const some = await list(WABA_A, '?fields=name,status&limit=1');
      expect(some.json.data).toEqual([{ name: 'order_update', status: 'APPROVED', id: expect.any(String) }]);
      const all = await list(WABA_A, '?limit=1');
      expect(Object.keys(all.json.data[0]).sort()).toEqual(['category', 'components', 'id', 'language', 'name', 'parameter_format', 'status']);
      expect(all.json.data[0].parameter_format).toBe('POSITIONAL');
      sim.addNumber({ phoneNumberId: '106540352242966', accessToken: 'EAAG-empty', wabaId: '300000000000001' });
      expect((await list('300000000000001', '', 'EAAG-empty')).json).toEqual({ data: [] });
    });

    it('forgets a removed template: it is no longer listed, and sending it is 132001', async () => {
      sim.addTemplate({ wabaId: WABA_B, name: 'short_lived', language: 'en', body: 'Soon gone' });
      expect(sim.removeTemplate({ wabaId: WABA_B, name: 'short_lived', language: 'en' })).toBe(true);
      expect(sim.removeTemplate({ wabaId: WABA_B, name: 'short_lived', language: 'en' })).toBe(false);
      expect((await list(WABA_B, '', NUM_B.accessToken)).json.data.map((t: any) => t.name)).toEqual(['welcome']);
      const sent = await sendTemplate({ name: 'short_lived', language: { code: 'en' } }, NUM_B);
      expect(sent.json.error.code).toBe(132001);
    });

    it('refuses another WABA’s token (100, subcode 33), a missing or unknown token (190), bad fields, limits and cursors (100)', async () => {
      const foreign = await list(WABA_A, '', NUM_B.accessToken);
      expect(foreign.status).toBe(400);
      expect(foreign.json.error).toMatchObject({ code: 100, error_subcode: 33 });
      expect((await list(WABA_A, '', NO_WABA.accessToken)).json.error.code).toBe(100);
      for (const token of ['', 'nope']) {
        const res = await list(WABA_A, '', token);
        expect(res.status).toBe(401);
        expect(res.json.error.code).toBe(190);
      }
      for (const query of ['?fields=name,secret', '?limit=0', '?limit=abc', '?after=bm9wZQ', '?after=x&before=y']) {
        const res = await list(WABA_A, query);
        expect([query, res.status, res.json.error.code]).toEqual([query, 400, 100]);
      }
      const post_ = await post(`${sim.graphUrl}/${WABA_A}/message_templates`, {}, auth(NUM_A.accessToken));
      expect(post_.json.error.code).toBe(100);
    });

    it('takes failNext on the templates endpoint and records listings in calls', async () => {
      sim.failNext(1, { code: 80007, endpoint: 'templates' });
      expect((await list(WABA_A)).json.error.code).toBe(80007);
      expect((await list(WABA_A)).status).toBe(200);
      expect(sim.calls.map((c) => [c.endpoint, c.wabaId, c.status, c.injected])).toEqual([
        ['templates', WABA_A, 400, true],
        ['templates', WABA_A, 200, false],
      ]);
    });

    it('addTemplate refuses bad definitions and replaces a template of the same name and language, keeping its id', () => {
      const bad: Array<Record<string, unknown>> = [
        { name: 'x', language: 'en' },
        { wabaId: WABA_A, name: 'Bad Name', language: 'en', body: 'x' },
        { wabaId: WABA_A, name: 'x', language: 'english', body: 'x' },
        { wabaId: WABA_A, name: 'x', language: 'en', body: 'x', status: 'LIVE' },
        { wabaId: WABA_A, name: 'x', language: 'en' },
        { wabaId: WABA_A, name: 'x', language: 'en', components: [{ type: 'FOOTER', text: 'no body' }] },
        { wabaId: WABA_A, name: 'x', language: 'en', body: 'x', id: 'abc' },
      ];
      for (const t of bad) expect(() => sim.addTemplate(t as never)).toThrow(/addTemplate/);
      const first = sim.addTemplate({ wabaId: WABA_B, name: 'twice', language: 'en', body: 'one' });
      const second = sim.addTemplate({ wabaId: WABA_B, name: 'twice', language: 'en', body: 'two {{1}}' });
      expect(second.id).toBe(first.id);
      expect(sim.templates(WABA_B).filter((t) => t.name === 'twice')).toEqual([second]);
    });
  });

  describe('template sends, checked against the catalogue', () => {
    it('accepts a template with the right parameters and records its filled-in text', async () => {
      const res = await sendTemplate(fullOrderUpdate());
      expect(res.status).toBe(200);
      expect(res.json.messages[0]).toEqual({ id: expect.stringMatching(/^wamid\./), message_status: 'accepted' });
      expect(sim.sent[0].template).toEqual({
        templateId: sim.templates(WABA_A)[0].id,
        name: 'order_update',
        language: 'en_US',
        category: 'UTILITY',
        header: 'Order #123',
        body: 'Hi Ana, your order #123 ships today.',
        footer: 'Acme Ltd',
      });
      // The quick-reply payload may be given; the media header takes a document.
      const withPayload = fullOrderUpdate();
      withPayload.components.push({ type: 'button', sub_type: 'quick_reply', index: 1, parameters: [{ type: 'payload', payload: 'STOP' }] });
      expect((await sendTemplate(withPayload)).status).toBe(200);
      const invoice = { name: 'invoice', language: { code: 'en_US' }, components: [{ type: 'header', parameters: [{ type: 'document', document: { link: 'https://acme.example/i.pdf' } }] }] };
      expect((await sendTemplate(invoice)).status).toBe(200);
      // Another language of the same name has its own placeholders.
      const de = await sendTemplate(orderUpdate([{ type: 'body', parameters: [text('Ana'), text('#9')] }], 'de'));
      expect(de.status).toBe(200);
      expect(sim.sent[3].template?.body).toBe('Hallo Ana, Bestellung #9 ist unterwegs.');
    });

    it.each([
      ['an unknown name', { name: 'nope', language: { code: 'en_US' } }, 132001, /does not exist in en_US/],
      ['a language it does not exist in', { name: 'order_update', language: { code: 'fr' }, components: [] }, 132001, /exists in en_US, de/],
      ['a template that is not approved (PENDING)', { name: 'promo', language: { code: 'en_US' } }, 132001, /not approved/],
      ['too few body parameters', { name: 'reopen', language: { code: 'en_US' }, components: [] }, 132000, /body: expected 1/],
      [
        'too many body parameters',
        { name: 'reopen', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [text('a'), text('b')] }] },
        132000,
        /body: expected 1 parameter\(s\), received 2/,
      ],
      [
        'parameters for a header the template does not have',
        { name: 'reopen', language: { code: 'en_US' }, components: [{ type: 'header', parameters: [text('x')] }, { type: 'body', parameters: [text('a')] }] },
        132000,
        /header: expected 0/,
      ],
      ['a media header left out', { name: 'invoice', language: { code: 'en_US' } }, 132000, /header: expected 1/],
      [
        'an image for a document header',
        { name: 'invoice', language: { code: 'en_US' }, components: [{ type: 'header', parameters: [{ type: 'image', image: { link: 'https://a.example/x.png' } }] }] },
        132012,
        /expected document, received image/,
      ],
      [
        'a quick_reply sub_type for a URL button',
        {
          name: 'order_update',
          language: { code: 'en_US' },
          components: [
            { type: 'header', parameters: [text('#1')] },
            { type: 'body', parameters: [text('Ana'), text('#1')] },
            { type: 'button', sub_type: 'quick_reply', index: 0, parameters: [{ type: 'payload', payload: 'x' }] },
          ],
        },
        132012,
        /sub_type url/,
      ],
      [
        'a body over 1024 characters once filled in',
        { name: 'reopen', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [text('x'.repeat(1025))] }] },
        132005,
        /1025 characters/,
      ],
    ])('refuses %s with its code, sending nothing', async (_name, template, code, details) => {
      const res = await sendTemplate(template);
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ code, type: 'OAuthException', message: expect.stringMatching(new RegExp(`^\\(#${code}\\) `)) });
      expect(res.json.error.error_data.details).toMatch(details);
      expect(sim.sent).toHaveLength(0);
      expect(sim.calls[0]).toMatchObject({ endpoint: 'messages', errorCode: code, injected: false });
    });

    it('refuses paused (132015) and disabled (132016) templates, and any template from a number without a WABA', async () => {
      sim.setTemplateStatus({ wabaId: WABA_A, name: 'reopen', language: 'en_US', status: 'PAUSED' });
      const reopen = { name: 'reopen', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [text('hi')] }] };
      expect((await sendTemplate(reopen)).json.error.code).toBe(132015);
      sim.setTemplateStatus({ wabaId: WABA_A, name: 'reopen', language: 'en_US', status: 'DISABLED' });
      expect((await sendTemplate(reopen)).json.error.code).toBe(132016);
      sim.setTemplateStatus({ wabaId: WABA_A, name: 'reopen', language: 'en_US', status: 'REJECTED' });
      expect((await sendTemplate(reopen)).json.error.code).toBe(132001);
      sim.setTemplateStatus({ wabaId: WABA_A, name: 'reopen', language: 'en_US', status: 'APPROVED' });
      expect((await sendTemplate(reopen)).status).toBe(200);
      // Templates belong to a WABA: another WABA's number, or one without a WABA, does not have them.
      expect((await sendTemplate(reopen, NUM_B)).json.error.code).toBe(132001);
      expect((await sendTemplate(reopen, NO_WABA)).json.error.code).toBe(132001);
      expect(() => sim.setTemplateStatus({ wabaId: WABA_A, name: 'nope', language: 'en_US', status: 'PAUSED' })).toThrow();
    });

    it.each([
      ['upper-case component types', [{ type: 'BODY', parameters: [text('a')] }]],
      ['a text parameter without text', [{ type: 'body', parameters: [{ type: 'text' }] }]],
      ['a parameter without a type', [{ type: 'body', parameters: [{ text: 'a' }] }]],
      ['a button without sub_type', [{ type: 'button', index: 0, parameters: [text('a')] }]],
      ['a button index out of range', [{ type: 'button', sub_type: 'url', index: 10, parameters: [text('a')] }]],
      ['two body components', [{ type: 'body', parameters: [text('a')] }, { type: 'body', parameters: [text('a')] }]],
      ['parameters that are not an array', [{ type: 'body', parameters: 'a' }]],
    ])('answers 100 for a malformed template object: %s', async (_name, components) => {
      const res = await sendTemplate({ name: 'reopen', language: { code: 'en_US' }, components });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe(100);
      expect(sim.sent).toHaveLength(0);
    });
  });

  describe('message_template_status_update webhooks', () => {
    let receiver: Receiver;
    const APP_SECRET = 'meta-app-secret';
    beforeEach(async () => {
      receiver = await startReceiver();
    });
    afterEach(async () => {
      sim.setTemplateStatus({ wabaId: WABA_A, name: 'reopen', language: 'en_US', status: 'APPROVED' });
      await receiver.close();
    });
    const reopen = { name: 'reopen', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [text('hi')] }] };

    it('moves the template and POSTs the change routed by WABA id, with no phone number, signed with the app secret', async () => {
      const result = await sim.deliverTemplateStatus({ url: receiver.url, appSecret: APP_SECRET, wabaId: WABA_A, name: 'reopen', language: 'en_US', event: 'PAUSED', reason: 'LOW_QUALITY' });
      expect(result.statuses).toEqual([200]);
      const [got] = receiver.received;
      expect(got.headers['x-hub-signature-256']).toBe(`sha256=${createHmac('sha256', APP_SECRET).update(got.raw).digest('hex')}`);
      const body = JSON.parse(got.raw.toString('utf8'));
      const id = sim.templates(WABA_A).find((t) => t.name === 'reopen')!.id;
      expect(body).toEqual({
        object: 'whatsapp_business_account',
        entry: [
          {
            id: WABA_A,
            time: expect.any(Number),
            changes: [
              {
                field: 'message_template_status_update',
                value: {
                  event: 'PAUSED',
                  message_template_id: Number(id),
                  message_template_name: 'reopen',
                  message_template_language: 'en_US',
                  reason: 'LOW_QUALITY',
                  message_template_category: 'UTILITY',
                },
              },
            ],
          },
        ],
      });
      expect(got.raw.toString()).not.toContain('phone_number_id');
      expect(sim.templates(WABA_A).find((t) => t.name === 'reopen')!.status).toBe('PAUSED');
      expect((await sendTemplate(reopen)).json.error.code).toBe(132015);

      await sim.deliverTemplateStatus({ url: receiver.url, appSecret: APP_SECRET, wabaId: WABA_A, name: 'reopen', language: 'en_US', event: 'APPROVED' });
      expect(JSON.parse(receiver.received[1].raw.toString()).entry[0].changes[0].value.reason).toBe('NONE');
      expect((await sendTemplate(reopen)).status).toBe(200);
      expect(sim.deliveries).toHaveLength(2);
    });

    it('leaves the status alone for other events, and refuses an unknown template', async () => {
      await sim.deliverTemplateStatus({ url: receiver.url, appSecret: APP_SECRET, wabaId: WABA_A, name: 'reopen', language: 'en_US', event: 'ARCHIVED' });
      expect(sim.templates(WABA_A).find((t) => t.name === 'reopen')!.status).toBe('APPROVED');
      await expect(sim.deliverTemplateStatus({ url: receiver.url, appSecret: APP_SECRET, wabaId: WABA_B, name: 'reopen', language: 'en_US', event: 'PAUSED' })).rejects.toThrow(
        /no template/,
      );
      expect(receiver.received).toHaveLength(1);
    });
  });

  it('has control routes for templates, status webhooks, the window and its enforcement', async () => {
    const ctl = await startMetaSimulator({ controlApi: true, retryDelayMs: 10 });
    const receiver = await startReceiver();
    try {
      const c = (path: string, body: unknown) => post(`${ctl.url}/_sim/${path}`, body);
      expect((await c('numbers', NUM_A)).status).toBe(201);
      const added = await c('templates', { wabaId: WABA_A, name: 'reopen', language: 'en_US', body: '{{1}}' });
      expect(added.status).toBe(201);
      expect(added.json).toMatchObject({ name: 'reopen', status: 'APPROVED', id: expect.stringMatching(/^\d+$/) });
      expect((await c('templates', { wabaId: WABA_A, name: 'Bad' })).status).toBe(400);
      expect(((await (await fetch(`${ctl.url}/_sim/templates`)).json()) as any[]).map((t) => t.name)).toEqual(['reopen']);

      const status = await c('template-status', { url: receiver.url, appSecret: 's', wabaId: WABA_A, name: 'reopen', language: 'en_US', event: 'PAUSED' });
      expect(status.json.statuses).toEqual([200]);
      expect(ctl.templates(WABA_A)[0].status).toBe('PAUSED');
      expect((await c('template-status', { url: receiver.url, appSecret: 's', wabaId: WABA_A, name: 'nope', language: 'en_US', event: 'PAUSED' })).status).toBe(400);

      expect((await c('window-enforcement', { on: true })).status).toBe(200);
      const window = await c('customer-window', { phoneNumberId: NUM_A.phoneNumberId, waId: TO, hoursAgo: 25 });
      expect(Date.now() - Date.parse(window.json.lastMessageAt)).toBeGreaterThan(25 * 3_600_000 - 5_000);
      const send = () => post(`${ctl.graphUrl}/${NUM_A.phoneNumberId}/messages`, { messaging_product: 'whatsapp', to: TO, text: { body: 'hi' } }, auth(NUM_A.accessToken));
      expect((await send()).json.error.code).toBe(131047);
      await c('customer-window', { phoneNumberId: NUM_A.phoneNumberId, waId: TO, at: new Date().toISOString() });
      expect((await send()).status).toBe(200);
      await c('customer-window', { phoneNumberId: NUM_A.phoneNumberId, waId: TO, clear: true });
      expect((await send()).json.error.code).toBe(131047);
      expect((await c('customer-window', { phoneNumberId: NUM_A.phoneNumberId, waId: TO, at: 'yesterday' })).status).toBe(400);
      expect((await c('customer-window', { waId: TO, hoursAgo: 1 })).status).toBe(400);
    } finally {
      await receiver.close();
      await ctl.close();
    }
  });
});
