/**
 * Where a request carrying a tenant's credential may go when a provider, not our configuration,
 * chose the URL (today: the media download URL that Meta's media lookup answers with, fetched
 * with the tenant's Meta token). A list of hosts, and two rules on top:
 * - https only, so the token never crosses the network in clear;
 * - plain http only to a loopback host the list names itself (`127.0.0.1`, `[::1]`, `localhost`),
 *   which is how tests and the demo reach the local simulators; a wildcard never allows http.
 */

/** Meta's media host: media lookups answer `https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=…`. */
export const DEFAULT_MEDIA_DOWNLOAD_HOSTS = 'lookaside.fbsbx.com';

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
/** `*.` and at least two labels: `*.fbcdn.net`, never `*.com`. */
const WILDCARD = new RegExp(`^\\*\\.(${LABEL}(?:\\.${LABEL})+)$`);
const IPV6 = /^\[[0-9a-f:.]+\]$/;

/** The host part of `http://<host>/`, as WHATWG URL normalises it (e.g. `127.1` → `127.0.0.1`). */
function normalisedHost(host: string): string | undefined {
  try {
    const url = new URL(`http://${host}/`);
    return url.host === url.hostname ? url.hostname : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses a host list: entries separated by commas or whitespace, each a host name, an IPv4
 * literal, a bracketed IPv6 literal, or `*.domain` (any subdomain of a domain of two labels or
 * more, not the domain itself). No scheme, port, path or userinfo. Returns the entries lowercased
 * and normalised; throws an Error naming the bad entry, or when there is none.
 */
export function parseHostAllowlist(value: string): string[] {
  const entries = value
    .split(/[\s,]+/)
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('the host list is empty');
  return entries.map((entry) => {
    const wildcard = WILDCARD.exec(entry);
    if (wildcard) return `*.${wildcard[1]}`;
    const host = NAME.test(entry) || IPV6.test(entry) ? normalisedHost(entry) : undefined;
    if (!host) throw new Error(`"${entry.slice(0, 100)}" is not a host name, IP address or *.domain`);
    return host;
  });
}

const isLoopback = (host: string) => host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * Whether a credential may be sent to `url` under `hosts` (as parseHostAllowlist returns them):
 * https to a listed host or a subdomain a wildcard covers; http only to a loopback host listed by
 * name; never with userinfo in the URL, never another scheme.
 */
export function isUrlAllowed(url: string, hosts: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password) return false;
  const host = parsed.hostname;
  if (parsed.protocol === 'http:') return isLoopback(host) && hosts.includes(host);
  if (parsed.protocol !== 'https:') return false;
  return hosts.some((h) => h === host || (h.startsWith('*.') && host.endsWith(h.slice(1))));
}
