import {
  INTERNAL_TOKEN_HEADER,
  NOTIFICATION_SIGNATURE_HEADER,
  createHttpClient,
  findNotification,
  logNotification,
  notificationUrlProblem,
  publicOnlyLookup,
  signNotification,
  type Database,
  type HttpClient,
  type Job,
  type Logger,
  type Outbox,
} from '@bridge/shared';
import { fromNetworkError, permanent, retryAfterMs, transient } from './errors';

/** A tenant's notification webhook, its secret in clear (tenant-service decrypts it). */
export interface NotificationWebhook {
  url: string;
  secret: string;
}

/**
 * Asks tenant-service (internal route `GET /internal/tenants/:id/notification-webhook`) where a
 * tenant's notifications go. Not cached: notifications are rare, and a changed URL or secret
 * applies from the next delivery. Throws a transient DeliveryError when tenant-service cannot say.
 */
export class NotificationWebhookClient {
  private readonly http: HttpClient;

  constructor(opts: { tenantServiceUrl: string; internalToken: string; timeoutMs?: number }) {
    this.http = createHttpClient({
      baseURL: opts.tenantServiceUrl.replace(/\/+$/, ''),
      timeoutMs: opts.timeoutMs ?? 3000,
      maxSockets: 8,
      maxRedirects: 0,
      headers: { [INTERNAL_TOKEN_HEADER]: opts.internalToken, Accept: 'application/json' },
    });
  }

  /** The tenant's webhook; undefined: it has none. */
  async read(tenantId: string): Promise<NotificationWebhook | undefined> {
    let res;
    try {
      res = await this.http.get(`/internal/tenants/${encodeURIComponent(tenantId)}/notification-webhook`);
    } catch (err) {
      throw fromNetworkError(err, 'tenant-service (notification webhook)');
    }
    const body = res.data as { url?: unknown; secret?: unknown; error?: { code?: unknown } } | undefined;
    if (res.status === 200 && typeof body?.url === 'string' && typeof body.secret === 'string') return { url: body.url, secret: body.secret };
    if (res.status === 404 && body?.error?.code !== 'ROUTE_NOT_FOUND') return undefined;
    throw transient('TENANT_SERVICE_UNAVAILABLE', `tenant-service answered ${res.status} for the notification webhook`);
  }

  close(): void {
    this.http.close();
  }
}

export interface NotificationDeliveryDeps {
  db: Database;
  outbox: Pick<Outbox, 'complete'>;
  webhooks: Pick<NotificationWebhookClient, 'read'>;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Per POST, in ms; default 10 s. */
  timeoutMs?: number;
  /** NOTIFICATION_WEBHOOK_ALLOW_LOOPBACK: POST to a loopback address too (local tests, the demo); default false. */
  allowLoopback?: boolean;
}

/**
 * Delivers a `to_tenant_notification` job (queued by raise_tenant_notification, see
 * shared/src/notifications.ts): logs the notification and, when the tenant has a notification
 * webhook now, POSTs it there as JSON `{ id, tenantId, kind, key, severity, message, details,
 * raisedAt, sentAt }`, signed in `X-Bridge-Signature-256` (signNotification), with
 * `X-Bridge-Notification-Id` (the same on every retry: de-duplicate on it). A 2xx completes it;
 * anything else (or no answer) is transient, retried with the outbox's backoff (honouring a
 * Retry-After) until the retry budget ends in a dead letter. No redirect is followed. A URL (or a
 * host name's address) that is not public is a permanent NOTIFICATION_WEBHOOK_BLOCKED failure
 * (shared/src/public-addresses.ts; loopback only with `allowLoopback`).
 */
export function createNotificationDelivery(deps: NotificationDeliveryDeps): { deliver(job: Job): Promise<void>; close(): void } {
  const allowLoopback = deps.allowLoopback ?? false;
  // Only public addresses (shared/src/public-addresses.ts): the URL is the tenant's choice, the POST comes from inside our network.
  const http = createHttpClient({ timeoutMs: deps.timeoutMs ?? 10_000, maxSockets: 16, maxRedirects: 0, lookup: publicOnlyLookup(allowLoopback) as never });
  const complete = (job: Job) => deps.db.withTenant(job.tenantId, (q) => deps.outbox.complete(q, job));

  async function deliver(job: Job): Promise<void> {
    const id = String(job.payload.notificationId ?? '');
    const n = /^\d{1,18}$/.test(id) ? await deps.db.withTenant(job.tenantId, (q) => findNotification(q, job.tenantId, id)) : undefined;
    if (!n) return complete(job);
    if (job.attempts === 1) logNotification(deps.logger, job.tenantId, n, 'tenant notification');
    const webhook = await deps.webhooks.read(job.tenantId);
    if (!webhook) return complete(job);
    // Checked again here (a URL stored before the rule, an address literal that no lookup sees); a name is checked on the addresses it resolves to.
    const problem = notificationUrlProblem(webhook.url, allowLoopback);
    if (problem) throw permanent('NOTIFICATION_WEBHOOK_BLOCKED', `The notification webhook URL ${problem}`);
    const body = JSON.stringify({ ...n, tenantId: job.tenantId, sentAt: new Date().toISOString() });
    let res;
    try {
      res = await http.post(webhook.url, body, {
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'whatsapp-genesys-bridge-notifications',
          [NOTIFICATION_SIGNATURE_HEADER]: signNotification(body, webhook.secret),
          'X-Bridge-Notification-Id': n.id,
        },
        responseType: 'text',
        maxContentLength: 64 * 1024,
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'EADDRBLOCKED') throw permanent('NOTIFICATION_WEBHOOK_BLOCKED', 'The notification webhook\u2019s host resolves to a private, loopback, link-local or metadata address');
      throw fromNetworkError(err, 'notification webhook');
    }
    if (res.status >= 200 && res.status < 300) {
      deps.logger.info({ tenantId: job.tenantId, notificationId: n.id, status: res.status }, 'tenant notification delivered to its webhook');
      return complete(job);
    }
    throw transient('NOTIFICATION_WEBHOOK_REFUSED', `The notification webhook answered ${res.status}`, retryAfterMs(res.headers['retry-after']));
  }

  return { deliver, close: () => http.close() };
}
