import { isTenantId } from '@bridge/shared';
import type { IngestDeps } from './deps';

/** The webhooks whose signatures are checked. */
export type SignedChannel = 'meta' | 'genesys';

/**
 * Reports a webhook whose signature did not verify (missing, or not made with the secret it was
 * checked with) as a security.bad_signature event, counted per tenant per window
 * (shared/src/security-events.ts: a flood is one audit event per tenant per minute with its
 * count). In the trail of each tenant the request named (the path's, when it has credentials of
 * the channel; or, with `owners`, those owning the numbers and WABAs of a platform-route payload;
 * anyone may name them, so the event says "a forged webhook named you"); when it named none, in
 * the platform's chain. Runs after the answer and is never awaited: the 401 takes the same time
 * whatever exists.
 */
export function reportBadSignature(
  deps: IngestDeps,
  channel: SignedChannel,
  named: readonly string[],
  reason: 'missing' | 'mismatch',
  route: string,
  options: { owners?: boolean } = {},
): void {
  const events = deps.securityEvents;
  if (!events) return;
  const candidates = [...new Set(named.filter(isTenantId))].slice(0, 20);
  void (async () => {
    // A path's tenant exists when it has the credentials the signature was checked with: the
    // lookup the check just made, cached (a flood of made-up ids costs no more lookups than it did).
    // The owners of a payload's numbers exist by definition.
    const existing: string[] = [];
    for (const tenantId of candidates) {
      const known = options.owners || (channel === 'meta' ? await deps.tenants.metaCredentials(tenantId) : await deps.tenants.genesysCredentials(tenantId));
      if (known) existing.push(tenantId);
    }
    const details = { channel, reason, route };
    for (const tenantId of existing) events.record({ tenantId, action: 'security.bad_signature', subject: channel, target: `webhook:${channel}`, details });
    if (!existing.length) {
      events.record({ tenantId: null, action: 'security.bad_signature', subject: channel, target: `webhook:${channel}`, details: { ...details, internal: { named: candidates } } });
    }
  })().catch(() => undefined);
}
