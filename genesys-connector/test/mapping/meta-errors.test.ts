import { GENESYS_FAILURE_REASONS } from '@bridge/simulators';
import { GENESYS_REASON_CODES } from '../../src/mapping/genesys-types';
import { META_ERRORS, classifyMetaError, describeMetaError, lookupMetaError, metaErrorText, metaErrorToReason } from '../../src/mapping/meta-errors';

const WINDOW_CLOSED = 'More than 24 hours since the customer last wrote; only an approved template can be sent';

describe('META_ERRORS, the one table of Meta error codes', () => {
  const entries = Object.entries(META_ERRORS).map(([code, entry]) => [Number(code), entry] as const);

  it('holds every code the bridge handles, with its Genesys reason and retry decision', () => {
    const table: Array<[number, string, boolean]> = [
      [131047, 'MessageExpired', false],
      [470, 'MessageExpired', false],
      [130429, 'RateLimited', true],
      [131056, 'RateLimited', true],
      [4, 'RateLimited', true],
      [80007, 'RateLimited', true],
      [131048, 'RateLimited', false],
      [131026, 'InvalidDestination', false],
      [131021, 'InvalidDestination', false],
      [131051, 'UnsupportedMessage', false],
      [131062, 'UnsupportedMessage', false],
      [131052, 'GeneralError', false],
      [131053, 'MediaTypeNotAllowed', false],
      [100, 'InvalidMessageStructure', false],
      [131008, 'InvalidMessageStructure', false],
      [131009, 'InvalidMessageStructure', false],
      [131050, 'RecipientOptedOut', false],
      [130472, 'MessageNotAllowed', false],
      [131049, 'MessageNotAllowed', false],
      [368, 'MessageNotAllowed', false],
      [131031, 'MessageNotAllowed', false],
      [190, 'GeneralError', false],
      [131000, 'ServerError', true],
      [131016, 'ServerError', true],
      [131057, 'ServerError', true],
      [133004, 'ServerError', true],
      [1, 'ServerError', true],
      [2, 'ServerError', true],
    ];
    const actual = entries.map(([code, e]) => [code, e.reason, e.retry]);
    expect(actual).toHaveLength(table.length);
    expect(actual).toEqual(expect.arrayContaining(table));
  });

  it.each(entries)('%s has a reason the Genesys receipt endpoint accepts and a text for the agent', (_code, entry) => {
    expect(GENESYS_FAILURE_REASONS).toContain(entry.reason);
    expect(entry.agentText.trim().length).toBeGreaterThan(0);
    expect(typeof entry.retry).toBe('boolean');
  });

  it('GENESYS_REASON_CODES is exactly the list the Genesys simulator accepts', () => {
    expect([...GENESYS_REASON_CODES]).toEqual([...GENESYS_FAILURE_REASONS]);
  });

  it('retries what the WhatsApp reference says to retry, and nothing it says not to', () => {
    for (const code of [130429, 131056, 131057, 4, 80007]) expect(lookupMetaError(code)?.retry).toBe(true);
    for (const code of [131047, 190, 100, 131026]) expect(lookupMetaError(code)?.retry).toBe(false);
  });

  it('paces the pair rate limit (131056) only: a wait of the customer\'s lane, not a failure', () => {
    expect(entries.filter(([, e]) => e.paced).map(([code]) => code)).toEqual([131056]);
    for (const [, e] of entries) if (e.paced) expect(e.retry).toBe(true);
  });

  it.each(entries)('%s: the receipt reason and the retry decision both come from the table', (code, entry) => {
    const reason = metaErrorToReason(code, { title: 'Meta says no', details: 'Because.' });
    expect(reason).toEqual({ code: entry.reason, message: `Meta says no: Because. (Meta #${code})` });
    // Without Meta's details, the table explains.
    expect(metaErrorToReason(code, { title: 'Meta says no' }).message).toBe(`Meta says no: ${entry.agentText}. (Meta #${code})`);
    const expected = entry.credential ? 'credential' : entry.paced ? 'paced' : entry.retry ? 'transient' : 'permanent';
    expect(classifyMetaError(code, 400)).toBe(expected);
    expect(classifyMetaError(code, 503)).toBe(expected);
  });

  it('looks up known codes and nothing else', () => {
    expect(lookupMetaError(131047)).toEqual({ reason: 'MessageExpired', agentText: WINDOW_CLOSED, retry: false });
    expect(lookupMetaError(130429)).toMatchObject({ reason: 'RateLimited', retry: true });
    expect(lookupMetaError(999999)).toBeUndefined();
    expect(lookupMetaError(132001)).toBeUndefined();
    expect(lookupMetaError(undefined)).toBeUndefined();
  });

  it('unknown codes fall back: templates to InvalidMessageStructure, others to GeneralError, with Meta\'s text', () => {
    expect(metaErrorToReason(999999, { title: 'Meta text' })).toEqual({ code: 'GeneralError', message: 'Meta text. (Meta #999999)' });
    expect(metaErrorToReason(132005, { title: ' Parameter mismatch ' })).toEqual({ code: 'InvalidMessageStructure', message: 'Parameter mismatch. (Meta #132005)' });
    expect(metaErrorToReason(133000, { title: 'x' }).code).toBe('GeneralError');
    expect(metaErrorToReason(999999)).toEqual({ code: 'GeneralError', message: 'WhatsApp could not deliver the message. (Meta #999999)' });
    expect(metaErrorToReason(undefined, { title: '  ' })).toEqual({ code: 'GeneralError', message: 'WhatsApp could not deliver the message.' });
    expect(metaErrorToReason(undefined, { details: 'Timeout' })).toEqual({ code: 'GeneralError', message: 'Timeout.' });
    expect(metaErrorToReason(131047)).toEqual({ code: 'MessageExpired', message: `${WINDOW_CLOSED}. (Meta #131047)` });
    const long = metaErrorToReason(999999, { details: 'x'.repeat(2000) }).message;
    expect(long).toHaveLength(1000);
    expect(long.endsWith('x…')).toBe(true);
  });
});

describe('describeMetaError: the reason an agent reads, written once', () => {
  it('131047 on a send: Meta\'s title without its "(#code)" prefix, its details, the code once', () => {
    const error = {
      message: '(#131047) Re-engagement message',
      type: 'OAuthException',
      code: 131047,
      error_data: { messaging_product: 'whatsapp', details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' },
    };
    expect(describeMetaError(error.code, metaErrorText(error))).toBe(
      'Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number. (Meta #131047)',
    );
  });

  it('a failed status\'s error (title, message, error_data.details) reads the same way', () => {
    const error = { code: 131053, title: 'Media upload error', message: 'Media upload error', error_data: { details: 'Unable to download the media from the link provided.' } };
    expect(describeMetaError(error.code, metaErrorText(error))).toBe('Media upload error: Unable to download the media from the link provided. (Meta #131053)');
  });

  it('details that repeat the title are said once, and the table explains instead', () => {
    expect(describeMetaError(131047, { title: '(#131047) Re-engagement message', details: 'Re-engagement message' })).toBe(
      `Re-engagement message: ${WINDOW_CLOSED}. (Meta #131047)`,
    );
  });

  it('never repeats the code', () => {
    const text = describeMetaError(131047, { title: '(#131047) Re-engagement message', details: '(#131047) Re-engagement message' });
    expect(text.match(/131047/g)).toHaveLength(1);
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
    const reason = metaErrorToReason(code, { title: 'Meta says no' });
    expect(reason.code).toBe(expected);
    expect((GENESYS_FAILURE_REASONS as readonly string[]).includes(reason.code)).toBe(true);
    expect(reason.message.length).toBeGreaterThan(0);
  });
});

describe('classifyMetaError', () => {
  const table: Array<[number | undefined, number, 'transient' | 'permanent' | 'paced' | 'credential']> = [
    [130429, 400, 'transient'],
    // The pair rate limit: the customer's lane waits, not a failure.
    [131056, 400, 'paced'],
    [131056, 503, 'paced'],
    [131057, 400, 'transient'],
    [4, 400, 'transient'],
    [80007, 400, 'transient'],
    [131000, 500, 'transient'],
    [131016, 503, 'transient'],
    [1, 400, 'transient'],
    [2, 400, 'transient'],
    [131047, 400, 'permanent'],
    [100, 400, 'permanent'],
    // A refused access token is the tenant's credential, not the message: its sends are held.
    [190, 401, 'credential'],
    [190, 400, 'credential'],
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
