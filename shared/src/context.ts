import { AsyncLocalStorage } from 'node:async_hooks';

/** Per-request context, readable anywhere below the request (repositories, loggers). */
export interface RequestContext {
  requestId: string;
  tenantId?: string;
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
