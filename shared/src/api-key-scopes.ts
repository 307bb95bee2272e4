/**
 * What a tenant API key may do (issue #13): each tenant route needs one scope (the table is
 * gateway/src/scopes.ts), a key holds a set, and a token from `POST /auth/token` holds at most its
 * key's (its `scope` claim, space-separated as OAuth's, RFC 9068 §2.2.3). Names are
 * `<resource>:<read|write|send|retry>`, public and never renamed.
 */
export const API_KEY_SCOPES = [
  'stats:read',
  'conversations:read',
  'messages:read',
  'mappings:read',
  'mappings:write',
  'messages:send',
  'messages:retry',
  'templates:read',
  'usage:read',
  'audit:read',
  'notifications:read',
] as const;

export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** What a key created without `scopes` gets: every `:read` scope, nothing that changes anything. */
export const DEFAULT_API_KEY_SCOPES: readonly ApiKeyScope[] = API_KEY_SCOPES.filter((s) => s.endsWith(':read'));

export function isApiKeyScope(s: unknown): s is ApiKeyScope {
  return typeof s === 'string' && (API_KEY_SCOPES as readonly string[]).includes(s);
}

/** `a ∩ b`, in `a`'s order. */
export function narrowScopes(a: readonly string[], b: readonly string[]): string[] {
  return a.filter((s) => b.includes(s));
}

/**
 * An exact browser origin (`https://app.example.com`, `http://localhost:5173`) as a key's
 * allowedOrigins lists it: scheme http or https, a host, an optional port, nothing else (no path,
 * no trailing slash, no user), lower case. Returns the problem, or undefined when it is one.
 * The Origin header's form: RFC 6454 §6.2.
 */
export function originProblem(origin: string): string | undefined {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return 'must be an origin like https://app.example.com';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must use http or https';
  if (url.origin !== origin) return `must be exactly the origin (${url.origin}): scheme, host and port only, lower case, no path or trailing slash`;
  return undefined;
}
