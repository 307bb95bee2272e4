import { metaError } from '@bridge/simulators';
import { genesysErrorText } from '../src/genesys-client';
import { metaSendError } from '../src/meta-client';

/**
 * What a provider's refusal reads like in logs, the tenant API and the agent's Failed receipt:
 * written once, in the provider's own words, with its code once.
 */
describe('a send Meta refused', () => {
  it('131047: Meta\'s title and details, the code once, permanent', () => {
    const res = metaError(131047, { details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' });
    const err = metaSendError(res.status, (res.body as { error: Parameters<typeof metaSendError>[1] }).error);
    expect(err).toMatchObject({ kind: 'permanent', code: 'META_REJECTED', metaCode: 131047 });
    expect(err.message).toBe(
      'Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number. (Meta #131047)',
    );
    expect(err.meta).toEqual({
      title: '(#131047) Re-engagement message',
      details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
    });
  });

  it('a throughput limit: transient, honouring Retry-After', () => {
    const err = metaSendError(400, { code: 130429, message: '(#130429) Rate limit hit', error_data: { details: 'Cloud API message throughput has been reached.' } }, '7');
    expect(err).toMatchObject({ kind: 'transient', code: 'META_UNAVAILABLE', retryAfterMs: 7000 });
    expect(err.message).toBe('Rate limit hit: Cloud API message throughput has been reached. (Meta #130429)');
  });

  it('the pair rate limit: paced, waiting the pair interval (6 s unless configured, longer if Retry-After asks)', () => {
    const res = metaError(131056, { details: 'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.' });
    const error = (res.body as { error: Parameters<typeof metaSendError>[1] }).error;
    expect(metaSendError(res.status, error)).toMatchObject({ kind: 'paced', code: 'META_PAIR_RATE_LIMITED', retryAfterMs: 6_000, metaCode: 131056 });
    expect(metaSendError(res.status, error, undefined, 300)).toMatchObject({ kind: 'paced', retryAfterMs: 300 });
    expect(metaSendError(res.status, error, '10', 300)).toMatchObject({ kind: 'paced', retryAfterMs: 10_000 });
    expect(metaSendError(res.status, error).message).toBe(
      '(Business Account, Consumer Account) pair rate limit hit: Too many messages sent from the sender phone number to the same recipient phone number in a short period of time. (Meta #131056)',
    );
  });

  it('no Meta error at all: the HTTP status', () => {
    expect(metaSendError(502, undefined)).toMatchObject({ kind: 'transient', message: 'Meta answered HTTP 502' });
    expect(metaSendError(200, undefined)).toMatchObject({ kind: 'permanent', message: 'Meta accepted the send (HTTP 200) but gave no message id' });
  });
});

describe('an answer Genesys refused', () => {
  it('its message, then its code and the HTTP status, once each', () => {
    const body = { message: 'Rate limit exceeded the maximum. Retry the request in [42] seconds', code: 'too.many.requests.retry.after', status: 429 };
    expect(genesysErrorText(429, body)).toBe('Rate limit exceeded the maximum. Retry the request in [42] seconds (Genesys too.many.requests.retry.after, HTTP 429)');
  });

  it('nested errors add what the top message does not say', () => {
    const body = { message: 'The request could not be understood', code: 'bad.request', status: 400, errors: [{ message: 'channel.time: must be an ISO-8601 date' }, { message: 'The request could not be understood' }] };
    expect(genesysErrorText(400, body)).toBe('The request could not be understood; channel.time: must be an ISO-8601 date (Genesys bad.request, HTTP 400)');
  });

  it('no body: the HTTP status', () => {
    expect(genesysErrorText(503, undefined)).toBe('Genesys answered HTTP 503');
    expect(genesysErrorText(503, '<html>')).toBe('Genesys answered HTTP 503');
  });
});
