import { LeaseLost } from '@bridge/shared';
import { claimedTwice, LEASE, sleep, useQueue } from './queue';

/** Operation: progress saved inside a job survives its attempt, so the next attempt resumes. */
const queue = useQueue();

describe('save progress', () => {
  it('is committed at once and handed to the next attempt, even after a lost lease', async () => {
    const id = await queue.add({ kind: 'to_whatsapp_message', lane: 'out:15550000001', payload: { note: 'kept' } });
    const [job] = await queue.outbox.claim(10, 1, []);
    await queue.outbox.saveProgress(job, { ...job.payload, wamids: ['wamid.1'] });
    expect(job.payload).toEqual({ note: 'kept', wamids: ['wamid.1'] });
    expect((await queue.row(id)).payload).toEqual({ note: 'kept', wamids: ['wamid.1'] });

    await sleep(20);
    const [again] = await queue.outbox.claim(10, LEASE, []);
    expect(again.payload).toEqual({ note: 'kept', wamids: ['wamid.1'] });
  });

  it('writes nothing for a claim another has taken since, and tells it to stop', async () => {
    const id = await queue.add({ kind: 'to_whatsapp_message', lane: 'out:15550000001' });
    const { stale, current } = await claimedTwice(queue);
    await queue.outbox.saveProgress(current, { wamids: ['wamid.1', 'wamid.2'] });

    await expect(queue.outbox.saveProgress(stale, { wamids: ['wamid.stale'] })).rejects.toBeInstanceOf(LeaseLost);
    expect((await queue.row(id)).payload).toEqual({ wamids: ['wamid.1', 'wamid.2'] });
    expect(stale.payload).toEqual({});
  });
});
