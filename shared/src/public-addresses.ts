import dns from 'node:dns';
import net from 'node:net';

/**
 * Where a tenant-chosen URL may point (today: the tenant's notification webhook, which the
 * platform POSTs to from inside its network): only the public internet. Refused: loopback,
 * private (RFC 1918), carrier-grade NAT (RFC 6598), link-local (169.254.0.0/16, where cloud
 * metadata services answer: 169.254.169.254; fe80::/10), unique-local IPv6 (fc00::/7, e.g.
 * AWS's fd00:ec2::254), the unspecified, benchmarking, multicast and reserved ranges (IANA
 * special-purpose registries), and IPv4 written as IPv6 (::ffff:a.b.c.d, NAT64 64:ff9b::/96),
 * judged by the IPv4 address inside. Loopback is allowed only when the deployment says so
 * (NOTIFICATION_WEBHOOK_ALLOW_LOOPBACK, for local tests and the demo).
 */
const blocked = new net.BlockList();
for (const [net4, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24],
  ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 3],
] as const) {
  blocked.addSubnet(net4, bits, 'ipv4');
}
for (const [net6, bits] of [['::', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['100::', 64], ['2001:db8::', 32], ['2001::', 23]] as const) {
  blocked.addSubnet(net6, bits, 'ipv6');
}
const loopback = new net.BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** The IPv4 address an IPv6 one carries (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64 64:ff9b::/96), if any. */
function embeddedIpv4(ip: string): string | undefined {
  const lower = ip.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1], 16);
    const lo = parseInt(hex[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return undefined;
}

/** What an IP address is, for a tenant-chosen URL: `public`, `loopback`, or `private` (everything else refused above). A non-IP string is `private`. */
export function addressKind(ip: string): 'public' | 'loopback' | 'private' {
  const family = net.isIP(ip);
  if (family === 0) return 'private';
  if (family === 6) {
    const v4 = embeddedIpv4(ip);
    if (v4) return addressKind(v4);
    if (loopback.check(ip, 'ipv6')) return 'loopback';
    return blocked.check(ip, 'ipv6') ? 'private' : 'public';
  }
  if (loopback.check(ip, 'ipv4')) return 'loopback';
  return blocked.check(ip, 'ipv4') ? 'private' : 'public';
}

/** Whether `ip` may be connected to for a tenant-chosen URL. */
export const isAllowedAddress = (ip: string, allowLoopback: boolean): boolean => {
  const kind = addressKind(ip);
  return kind === 'public' || (kind === 'loopback' && allowLoopback);
};

/**
 * What is wrong with `u` as a tenant's notification webhook URL, or undefined when nothing is:
 * https only (http only to a loopback host, when `allowLoopback`); no user or password; a host
 * that is an IP address must be public (isAllowedAddress); `localhost` and names under
 * `.localhost` count as loopback. A name is resolved at each delivery (publicOnlyLookup).
 */
export function notificationUrlProblem(u: string, allowLoopback: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return 'must be a URL like https://example.com/hooks/bridge';
  }
  if (url.username || url.password) return 'must not carry a user or password';
  // WHATWG URL has already normalised the host (0x7f.1 → 127.0.0.1); IPv6 comes bracketed.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
  const isLoopbackName = host === 'localhost' || host.endsWith('.localhost');
  const kind = isLoopbackName ? 'loopback' : net.isIP(host) ? addressKind(host) : 'public';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && kind === 'loopback' && allowLoopback)) {
    return allowLoopback ? 'must use https (http only to a loopback host)' : 'must use https';
  }
  if (kind === 'private' || (kind === 'loopback' && !allowLoopback)) return 'must not point at a private, loopback, link-local or metadata address';
  return undefined;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s) agents that refuses, with an `EADDRBLOCKED` error, a host name any of
 * whose addresses is not allowed (isAllowedAddress): checked on the addresses the socket will
 * connect to, so a name that resolves (or rebinds) to a private address is never reached.
 * IP literals do not go through `lookup`: check the URL first (notificationUrlProblem).
 */
export function publicOnlyLookup(allowLoopback: boolean) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const refused = addresses.find((a) => !isAllowedAddress(a.address, allowLoopback));
      if (refused || addresses.length === 0) {
        const blockedErr: NodeJS.ErrnoException = new Error(`${hostname} resolves to an address notifications may not be sent to`);
        blockedErr.code = 'EADDRBLOCKED';
        return callback(blockedErr, []);
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}
