import { Client } from 'pg';
import { OUTBOX_CHANNEL, OutboxNotifier } from '@bridge/shared';
import { openQueue, sleep, type Queue } from './queue';

/** Operation: the notifier wakes the workers listening on OUTBOX_CHANNEL, at most once per window plus a trailing one. */
let queue: Queue;
let listener: Client;
let heard: number;
beforeAll(async () => {
  queue = await openQueue();
  listener = new Client({ connectionString: queue.tdb.appUrl });
  await listener.connect();
  listener.on('notification', (n) => {
    if (n.channel === OUTBOX_CHANNEL) heard++;
  });
  await listener.query(`LISTEN ${OUTBOX_CHANNEL}`);
});
afterAll(async () => {
  await listener.end();
  await queue.close();
});
beforeEach(() => {
  heard = 0;
});

/** Until `heard` reaches `n` (a loaded machine may deliver a NOTIFY late); throws after `ms`. */
async function untilHeard(n: number, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (heard < n) {
    if (Date.now() > end) throw new Error(`heard ${heard} NOTIFY, expected ${n}`);
    await sleep(5);
  }
}

describe('the outbox notifier', () => {
  it('wakes the listeners at once on the first touch of a quiet spell', async () => {
    // A window far longer than the wait: what arrives is the leading NOTIFY, not a trailing one.
    const notifier = new OutboxNotifier(queue.db, 10_000);
    notifier.touch();
    await untilHeard(1);
    expect(heard).toBe(1);
    notifier.close();
  });

  it('sends one NOTIFY per window for a burst, the last touch included', async () => {
    const notifier = new OutboxNotifier(queue.db, 300);
    for (let i = 0; i < 50; i++) notifier.touch();
    await untilHeard(2); // leading and trailing
    await sleep(600); // two more windows: nothing else comes
    expect(heard).toBe(2);
    notifier.close();
  });

  it('drops the pending trailing NOTIFY on close', async () => {
    const notifier = new OutboxNotifier(queue.db, 100);
    notifier.touch();
    notifier.touch();
    notifier.close();
    await untilHeard(1);
    await sleep(300);
    expect(heard).toBe(1);
  });
});
