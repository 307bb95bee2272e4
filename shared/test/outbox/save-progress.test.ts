import { LEASE, sleep, useQueue } from './queue';

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
});
