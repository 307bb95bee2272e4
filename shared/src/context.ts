import { AsyncLocalStorage } from 'node:async_hooks';

/** Per-request context, readable anywhere below the request (repositories, loggers). */
export interface RequestContext {
  requestId: string;
  tenantId?: string;
  /** The caller's address (as the service sees it, or as the gateway forwarded it): the audit trail records it. */
  clientIp?: string;
  /** Who acts, for the audit trail: 'admin', 'key:<api key id>'; none: 'system'. */
  actor?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

/** Records the tenant once it is known, so every later log line of the request carries it. */
export function setContextTenant(tenantId: string): void {
  const ctx = storage.getStore();
  if (ctx) ctx.tenantId = tenantId;
}

/** Records who acts, and from where, once known (the audit trail reads both). */
export function setContextCaller(caller: { actor?: string; clientIp?: string }): void {
  const ctx = storage.getStore();
  if (!ctx) return;
  if (caller.actor !== undefined) ctx.actor = caller.actor;
  if (caller.clientIp !== undefined) ctx.clientIp = caller.clientIp;
}
