import { lanes } from '@bridge/shared';
import { at, LEASE, useQueue } from './queue';

/** Rule: a tenant at its concurrency limit (skipTenants) gets nothing claimed; the others do. */
const queue = useQueue();

describe('a saturated tenant', () => {
  it('is skipped, while other tenants’ due jobs are claimed, however early its own are', async () => {
    const a1 = await queue.add({ tenantId: 'tenant-a', lane: lanes.inbound('15550000001'), ordering: at(1) });
    const a2 = await queue.add({ tenantId: 'tenant-a', lane: lanes.inbound('15550000002'), ordering: at(2) });
    const b1 = await queue.add({ tenantId: 'tenant-b', lane: lanes.inbound('15550000001'), ordering: at(3) });

    const claimed = await queue.outbox.claim(10, LEASE, ['tenant-a']);
    expect(claimed.map((j) => j.id)).toEqual([b1]);
    expect(claimed[0].tenantId).toBe('tenant-b');

    // No longer saturated: its jobs are claimed.
    expect((await queue.outbox.claim(10, LEASE, [])).map((j) => j.id).sort()).toEqual([a1, a2].sort());
  });

  it('skips every tenant listed', async () => {
    await queue.add({ tenantId: 'tenant-a' });
    await queue.add({ tenantId: 'tenant-b' });
    expect(await queue.outbox.claim(10, LEASE, ['tenant-a', 'tenant-b'])).toEqual([]);
  });
});
