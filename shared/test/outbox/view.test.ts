import { LEASE, useQueue } from './queue';

/** Operation: the operators' view counts jobs per tenant, kind and state, every tenant's. */
const queue = useQueue();

describe('queue view', () => {
  it('counts pending, failed and dead jobs per tenant and kind, in order', async () => {
    await queue.add({ tenantId: 'tenant-b', lane: 'in:1' });
    await queue.add({ tenantId: 'tenant-a', lane: 'in:1' });
    await queue.add({ tenantId: 'tenant-a', lane: 'in:2' });
    await queue.add({ tenantId: 'tenant-a', kind: 'to_genesys_receipt', lane: 'rcpt:wamid.1' });
    const failing = await queue.add({ tenantId: 'tenant-a', kind: 'to_whatsapp_message', lane: 'out:1' });
    const claimed = await queue.outbox.claim(10, LEASE, ['tenant-b']);
    const job = claimed.find((j) => j.id === failing)!;
    await queue.db.withTenant('tenant-a', (q) => queue.outbox.finish(q, job, 'failed', 'META_REJECTED: no'));

    expect(await queue.outbox.view()).toEqual([
      { tenantId: 'tenant-a', kind: 'to_genesys_message', state: 'pending', count: 2 },
      { tenantId: 'tenant-a', kind: 'to_genesys_receipt', state: 'pending', count: 1 },
      { tenantId: 'tenant-a', kind: 'to_whatsapp_message', state: 'failed', count: 1 },
      { tenantId: 'tenant-b', kind: 'to_genesys_message', state: 'pending', count: 1 },
    ]);
  });

  it('is empty for an empty queue', async () => {
    expect(await queue.outbox.view()).toEqual([]);
  });
});
