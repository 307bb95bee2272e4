import { appError } from '@bridge/shared';
import { metaError } from '@bridge/simulators';
import { DeliveryError } from '../src/errors';
import { GenesysClient, genesysErrorText } from '../src/genesys-client';
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

describe('a refused credential (credential health)', () => {
  it("Meta's 190: a `credential` error of the tenant's Meta credential, not the message's failure", () => {
    const res = metaError(190);
    const err = metaSendError(res.status, (res.body as { error: Parameters<typeof metaSendError>[1] }).error);
    expect(err).toMatchObject({ kind: 'credential', credential: 'meta', code: 'META_TOKEN_INVALID', metaCode: 190 });
    expect(err.message).toContain('(Meta #190)');
  });

  it("Genesys refusing the OAuth client at its token endpoint: a `credential` error of the tenant's Genesys credential, without a call to the API", async () => {
    const client = new GenesysClient({
      credentials: { genesys: async () => ({ clientId: 'c', clientSecret: 'secret-secret', region: 'mypurecloud.ie', integrationId: 'i-1', webhookSecret: 'w'.repeat(16) }) },
      tokens: {
        token: async () => {
          throw appError('GENESYS_AUTH_FAILED', "Genesys refused this tenant's OAuth client credentials (invalid_client)");
        },
      },
      apiUrlTemplate: 'http://127.0.0.1:9',
      timeoutMs: 1000,
      breakerResetMs: 1000,
    });
    try {
      const err = await client.send('tenant-a', 'message', {}).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DeliveryError);
      expect(err).toMatchObject({ kind: 'credential', credential: 'genesys', code: 'GENESYS_CREDENTIALS_REFUSED', message: expect.stringContaining('invalid_client') });
      // Refusals do not open the tenant's circuit: after many, the next is still a refusal, not CIRCUIT_OPEN.
      for (let i = 0; i < 10; i++) await client.send('tenant-a', 'message', {}).catch(() => undefined);
      expect(client.isOpen('tenant-a')).toBe(false);
    } finally {
      client.close();
    }
  });

  it('anything else from the token broker stays transient', async () => {
    const client = new GenesysClient({
      credentials: { genesys: async () => ({ clientId: 'c', clientSecret: 'secret-secret', region: 'mypurecloud.ie', integrationId: 'i-1', webhookSecret: 'w'.repeat(16) }) },
      tokens: {
        token: async () => {
          throw appError('GENESYS_UNAVAILABLE');
        },
      },
      apiUrlTemplate: 'http://127.0.0.1:9',
      timeoutMs: 1000,
      breakerResetMs: 1000,
    });
    try {
      await expect(client.send('tenant-a', 'message', {})).rejects.toMatchObject({ kind: 'transient', code: 'GENESYS_TOKEN_UNAVAILABLE' });
    } finally {
      client.close();
    }
  });
});
