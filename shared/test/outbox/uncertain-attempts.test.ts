import { LEASE, sleep, useQueue } from './queue';

/**
 * Rule: an attempt whose outcome is unknown is counted on its message (message_tracking
 * .uncertain_attempts): a lease that ran out with nothing recorded, or a retry the worker marks
 * uncertain (a timeout after the request went out).
 */
const queue = useQueue();

describe('uncertain attempts', () => {
  it('claims a job whose lease ran out again, as uncertain, and counts it on the message', async () => {
    const messageId = await queue.message();
    const id = await queue.add({ messageId });

    const [first] = await queue.outbox.claim(10, 1, []);
    expect(first).toMatchObject({ id, messageId, attempts: 1, uncertain: false });
    await sleep(20); // the worker died: its lease runs out

    const [again] = await queue.outbox.claim(10, LEASE, []);
    expect(again).toMatchObject({ id, attempts: 2, uncertain: true });
    expect((await queue.messageRow(messageId)).uncertain_attempts).toBe(1);
  });

  it('does not claim a job whose lease still runs', async () => {
    const messageId = await queue.message();
    await queue.add({ messageId });
    expect(await queue.outbox.claim(10, LEASE, [])).toHaveLength(1);
    expect(await queue.outbox.claim(10, LEASE, [])).toEqual([]);
    expect((await queue.messageRow(messageId)).uncertain_attempts).toBe(0);
  });

  it('does not count a recorded outcome: a retried job comes back certain', async () => {
    const messageId = await queue.message();
    await queue.add({ messageId });
    const [job] = await queue.outbox.claim(10, LEASE, []);
    await queue.outbox.retry(job, 0, 'GENESYS_UNAVAILABLE: 503');

    const [again] = await queue.outbox.claim(10, LEASE, []);
    expect(again).toMatchObject({ id: job.id, attempts: 2, uncertain: false });
    expect((await queue.messageRow(messageId)).uncertain_attempts).toBe(0);
  });

  it('counts a retry marked uncertain (the request may have reached the provider)', async () => {
    const messageId = await queue.message();
    await queue.add({ messageId });
    const [job] = await queue.outbox.claim(10, LEASE, []);
    await queue.outbox.retry(job, 0, 'NETWORK_ERROR: Meta: ETIMEDOUT', true);
    expect((await queue.messageRow(messageId)).uncertain_attempts).toBe(1);
  });

  it('counts nothing for a job without a message (a receipt)', async () => {
    const messageId = await queue.message();
    await queue.add({ kind: 'to_genesys_receipt', lane: 'rcpt:wamid.x' });
    await queue.outbox.claim(10, 1, []);
    await sleep(20);
    const [again] = await queue.outbox.claim(10, LEASE, []);
    expect(again.uncertain).toBe(true);
    expect((await queue.messageRow(messageId)).uncertain_attempts).toBe(0);
  });
});
