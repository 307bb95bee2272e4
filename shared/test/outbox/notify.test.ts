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

describe('the outbox notifier', () => {
  it('wakes the listeners at once on the first touch of a quiet spell', async () => {
    const notifier = new OutboxNotifier(queue.db, 50);
    notifier.touch();
    await sleep(40); // within the window: the leading NOTIFY, not a trailing one
    expect(heard).toBe(1);
    notifier.close();
  });

  it('sends one NOTIFY per window for a burst, the last touch included', async () => {
    const notifier = new OutboxNotifier(queue.db, 100);
    for (let i = 0; i < 50; i++) notifier.touch();
    await sleep(250);
    expect(heard).toBe(2); // leading and trailing
    notifier.close();
  });

  it('drops the pending trailing NOTIFY on close', async () => {
    const notifier = new OutboxNotifier(queue.db, 100);
    notifier.touch();
    notifier.touch();
    notifier.close();
    await sleep(200);
    expect(heard).toBe(1);
  });
});
