import { ConfigError, DEFAULT_MEDIA_DOWNLOAD_HOSTS, isUrlAllowed, loadConfig, parseHostAllowlist, serviceConfigSchema } from '../src';

describe('parseHostAllowlist', () => {
  it('reads host names, IP literals and *.domain wildcards, separated by commas or spaces, normalised', () => {
    expect(parseHostAllowlist(' Lookaside.FBSBX.com, *.fbcdn.net 127.0.0.1,[::1]')).toEqual(['lookaside.fbsbx.com', '*.fbcdn.net', '127.0.0.1', '[::1]']);
  });

  it.each([
    ['a scheme', 'https://lookaside.fbsbx.com'],
    ['a port', '127.0.0.1:9200'],
    ['a path', 'lookaside.fbsbx.com/whatsapp_business'],
    ['a bare wildcard', '*'],
    ['a wildcard over a top-level domain', '*.com'],
    ['a wildcard inside a name', 'look*.fbsbx.com'],
    ['userinfo', 'user@lookaside.fbsbx.com'],
    ['nothing', ' , '],
  ])('refuses %s', (_what, value) => {
    expect(() => parseHostAllowlist(value)).toThrow(/host/i);
  });
});

describe('isUrlAllowed', () => {
  const meta = parseHostAllowlist('lookaside.fbsbx.com,*.fbcdn.net');
  const sims = parseHostAllowlist('127.0.0.1,[::1]');

  it.each([
    ['https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=3', meta, true],
    ['https://LOOKASIDE.fbsbx.com./x', meta, false],
    ['https://scontent.xx.fbcdn.net/v/t1', meta, true],
    ['https://fbcdn.net/x', meta, false],
    ['https://evilfbcdn.net/x', meta, false],
    ['https://lookaside.fbsbx.com.evil.example/x', meta, false],
    // Plain http would hand the token to anyone on the path.
    ['http://lookaside.fbsbx.com/x', meta, false],
    ['https://user:pw@lookaside.fbsbx.com/x', meta, false],
    ['https://lookaside.fbsbx.com@evil.example/x', meta, false],
    ['ftp://lookaside.fbsbx.com/x', meta, false],
    ['not a url', meta, false],
    // http only to a loopback host the list names itself.
    ['http://127.0.0.1:9200/media-download/abc', sims, true],
    ['http://127.1:9200/media-download/abc', sims, true],
    ['http://[::1]:9200/x', sims, true],
    ['http://localhost:9200/x', sims, false],
    ['http://127.0.0.2:9200/x', sims, false],
    ['http://127.0.0.1:9200/x', meta, false],
    ['http://10.0.0.1/x', parseHostAllowlist('10.0.0.1'), false],
    ['http://a.example.localhost/x', parseHostAllowlist('*.example.localhost'), false],
  ])('%s → %s', (url, hosts, allowed) => {
    expect(isUrlAllowed(url, hosts)).toBe(allowed);
  });
});

describe('MEDIA_DOWNLOAD_HOSTS', () => {
  const schema = serviceConfigSchema(3001, {});
  const base = { DATABASE_URL: 'postgres://bridge_app@localhost/db' };

  it("defaults to Meta's media host", () => {
    expect(DEFAULT_MEDIA_DOWNLOAD_HOSTS).toBe('lookaside.fbsbx.com');
    expect(loadConfig(schema, base).MEDIA_DOWNLOAD_HOSTS).toEqual(['lookaside.fbsbx.com']);
  });

  it('is parsed, and a bad entry stops the service at start, naming the variable', () => {
    expect(loadConfig(schema, { ...base, MEDIA_DOWNLOAD_HOSTS: '127.0.0.1' }).MEDIA_DOWNLOAD_HOSTS).toEqual(['127.0.0.1']);
    expect(() => loadConfig(schema, { ...base, MEDIA_DOWNLOAD_HOSTS: 'http://127.0.0.1:9200' })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { ...base, MEDIA_DOWNLOAD_HOSTS: 'http://127.0.0.1:9200' })).toThrow(/MEDIA_DOWNLOAD_HOSTS/);
  });
});
