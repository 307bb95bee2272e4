import { META_PAIR_RATE_LIMIT, startMetaSimulator, type MetaSimulator } from '@bridge/simulators';
import { PairRates } from '../src/meta/pair-rate';
import { post } from './helpers';

describe('Meta simulator: the pair rate limit (131056)', () => {
  const NUM_A = { phoneNumberId: '106540352242922', accessToken: 'EAAG-token-a' };
  const NUM_B = { phoneNumberId: '106540352242933', accessToken: 'EAAG-token-b' };
  const ANA = '16505551234';
  const BEN = '16505551235';

  describe('the rule, on a clock the test moves', () => {
    it('lets a burst through, refuses the next send, then lets one through per interval', () => {
      const pairs = new PairRates({ intervalMs: 1000, burst: 3 });
      const t0 = 1_000_000;
      expect([0, 0, 0, 0].map((dt) => pairs.take('n', ANA, t0 + dt))).toEqual([true, true, true, false]);
      // The burst borrowed: the next slot opens one interval after the start, not before.
      expect(pairs.take('n', ANA, t0 + 999)).toBe(false);
      expect(pairs.take('n', ANA, t0 + 1000)).toBe(true);
      expect(pairs.take('n', ANA, t0 + 1000)).toBe(false);
      expect(pairs.take('n', ANA, t0 + 2000)).toBe(true);
      // A quiet pair earns its burst back (never more).
      expect([0, 0, 0, 0].map((dt) => pairs.take('n', ANA, t0 + 60_000 + dt))).toEqual([true, true, true, false]);
    });

    it('counts each pair on its own: another user, or another business number, is not slowed', () => {
      const pairs = new PairRates({ intervalMs: 1000, burst: 1 });
      expect(pairs.take('n', ANA, 0)).toBe(true);
      expect(pairs.take('n', ANA, 1)).toBe(false);
      expect(pairs.take('n', BEN, 1)).toBe(true);
      expect(pairs.take('m', ANA, 1)).toBe(true);
    });

    it('is off unless switched on, takes Meta’s figures for what is left out, and refuses a bad limit', () => {
      const off = new PairRates();
      expect(Array.from({ length: 100 }, () => off.take('n', ANA, 0)).every(Boolean)).toBe(true);
      expect(off.limit).toBeNull();
      off.set({});
      expect(off.limit).toEqual({ intervalMs: 6000, burst: 45 });
      expect(META_PAIR_RATE_LIMIT).toEqual({ intervalMs: 6000, burst: 45 });
      expect(() => off.set({ intervalMs: 0 })).toThrow(RangeError);
      expect(() => off.set({ burst: 0.5 })).toThrow(RangeError);
    });
  });

  describe('on the messages endpoint', () => {
    let sim: MetaSimulator;
    beforeAll(async () => {
      sim = await startMetaSimulator({ controlApi: true, pairRateLimit: { intervalMs: 60_000, burst: 2 } });
      sim.addNumber(NUM_A);
      sim.addNumber(NUM_B);
    });
    afterAll(() => sim.close());
    beforeEach(() => sim.reset());

    const send = (to: string, body: Record<string, unknown> = { type: 'text', text: { body: 'hi' } }, num = NUM_A) =>
      post(`${sim.graphUrl}/${num.phoneNumberId}/messages`, { messaging_product: 'whatsapp', to, ...body }, { Authorization: `Bearer ${num.accessToken}` });

    it('answers a send over the limit 400 with Meta’s 131056 error, records nothing, and lets other pairs through', async () => {
      expect((await send(ANA)).status).toBe(200);
      expect((await send(ANA)).status).toBe(200);
      const refused = await send(ANA);
      expect(refused.status).toBe(400);
      expect(refused.json.error).toMatchObject({
        code: 131056,
        message: '(#131056) (Business Account, Consumer Account) pair rate limit hit',
        error_data: { messaging_product: 'whatsapp', details: 'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.' },
      });
      expect(sim.calls.at(-1)).toMatchObject({ endpoint: 'messages', to: ANA, status: 400, errorCode: 131056, injected: false });
      expect(sim.sent.filter((s) => s.body.to === ANA)).toHaveLength(2);
      expect((await send(BEN)).status).toBe(200);
      expect((await send(ANA, undefined, NUM_B)).status).toBe(200);
    });

    it('does not count a send refused for another reason', async () => {
      expect((await send(ANA, { type: 'text', text: {} })).json.error.code).toBe(100);
      expect((await send(ANA)).status).toBe(200);
      expect((await send(ANA)).status).toBe(200);
      expect((await send(ANA)).json.error.code).toBe(131056);
    });

    it('is switched by setPairRateLimit and the control API; reset restores the start option', async () => {
      sim.setPairRateLimit(null);
      for (let i = 0; i < 5; i++) expect((await send(ANA)).status).toBe(200);
      const on = await post(`${sim.url}/_sim/pair-rate-limit`, { on: true, intervalMs: 60_000, burst: 1 });
      expect(on.json).toEqual({ ok: true, pairRateLimit: { intervalMs: 60_000, burst: 1 } });
      expect((await send(ANA)).status).toBe(200);
      expect((await send(ANA)).json.error.code).toBe(131056);
      expect((await post(`${sim.url}/_sim/pair-rate-limit`, { on: true, burst: 0 })).status).toBe(400);
      expect((await post(`${sim.url}/_sim/pair-rate-limit`, { on: false })).json.pairRateLimit).toBeNull();
      expect((await send(ANA)).status).toBe(200);
      sim.reset();
      expect(sim.pairRateLimit).toEqual({ intervalMs: 60_000, burst: 2 });
    });
  });
});
