import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { addressKind, publicOnlyLookup, type Database, type Job } from '@bridge/shared';
import { DeliveryError } from '../src/errors';
import { createNotificationDelivery } from '../src/notifications';

/**
 * The notification webhook is a URL the tenant chose, POSTed from inside the platform's network:
 * never to a private, loopback, link-local or metadata address (SSRF), whether the stored URL
 * names it (one stored before the rule) or a host name resolves to it; loopback only when the
 * deployment allows it (NOTIFICATION_WEBHOOK_ALLOW_LOOPBACK).
 */
const row = { id: '7', kind: 'quota.messagesPerMonth', key: '2026-11:80', severity: 'warning', message: 'm', details: {}, raised_at: new Date() };
const db = { withTenant: async (_t: string, fn: (q: unknown) => unknown) => fn({ query: async () => ({ rows: [row] }) }) } as unknown as Database;
const job = { id: '1', tenantId: 'acme', kind: 'to_tenant_notification', payload: { notificationId: '7' }, attempts: 1 } as unknown as Job;
const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

let server: http.Server;
let hits = 0;
let port: number;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits++;
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function delivery(url: string, allowLoopback: boolean) {
  const completed: Job[] = [];
  const d = createNotificationDelivery({
    db,
    outbox: { complete: async (_q, j) => void completed.push(j as never) },
    webhooks: { read: async () => ({ url, secret: 'whsec-0123456789abcdef' }) },
    logger,
    timeoutMs: 2000,
    allowLoopback,
  });
  return { d, completed };
}

it('classifies addresses: metadata, private, CGNAT, ULA and IPv4-mapped ones are private; loopback is its own kind', () => {
  for (const ip of ['169.254.169.254', '10.1.2.3', '172.31.255.255', '192.168.0.1', '100.100.100.200', '0.0.0.0', 'fd00:ec2::254', 'fe80::1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', '::', '224.0.0.1', '255.255.255.255']) {
    expect([ip, addressKind(ip)]).toEqual([ip, 'private']);
  }
  for (const ip of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect([ip, addressKind(ip)]).toEqual([ip, 'loopback']);
  for (const ip of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '172.32.0.1']) expect([ip, addressKind(ip)]).toEqual([ip, 'public']);
});

it('refuses, as a permanent failure and without a request, a stored URL naming a private or loopback address', async () => {
  for (const url of ['https://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/x', `http://127.0.0.1:${port}/hook`]) {
    const { d, completed } = delivery(url, false);
    const err = await d.deliver(job).then(() => undefined, (e: unknown) => e);
    expect([url, err instanceof DeliveryError && err.kind, (err as DeliveryError).code]).toEqual([url, 'permanent', 'NOTIFICATION_WEBHOOK_BLOCKED']);
    expect(completed).toEqual([]);
    d.close();
  }
  expect(hits).toBe(0);
});

it('refuses a host name that resolves to a loopback or private address: checked on the addresses the socket would use', async () => {
  const lookup = (allow: boolean, all: boolean) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) => publicOnlyLookup(allow)('localhost', { all }, (err, address) => resolve({ err, address })));
  for (const all of [false, true]) {
    expect((await lookup(false, all)).err?.code).toBe('EADDRBLOCKED');
    expect((await lookup(true, all)).err).toBeNull();
  }
});

it('delivers to loopback only when the deployment allows it', async () => {
  const { d, completed } = delivery(`http://127.0.0.1:${port}/hook`, true);
  await d.deliver(job);
  expect(completed).toHaveLength(1);
  expect(hits).toBe(1);
  d.close();
});
