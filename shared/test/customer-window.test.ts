import { CUSTOMER_WINDOW_MS, customerWindow } from '../src/customer-window';

describe('customerWindow (WhatsApp’s 24-hour customer-service window)', () => {
  const last = new Date('2025-01-01T12:00:00.000Z');
  const at = (ms: number) => new Date(last.getTime() + ms);

  it('is 24 hours', () => {
    expect(CUSTOMER_WINDOW_MS).toBe(86_400_000);
  });

  it('is open until 24 h after the customer’s last message, closed from that instant on', () => {
    const expires = '2025-01-02T12:00:00.000Z';
    expect(customerWindow(last, at(0))).toEqual({ windowOpen: true, windowExpiresAt: expires });
    expect(customerWindow(last, at(CUSTOMER_WINDOW_MS - 1))).toEqual({ windowOpen: true, windowExpiresAt: expires });
    expect(customerWindow(last, at(CUSTOMER_WINDOW_MS))).toEqual({ windowOpen: false, windowExpiresAt: expires });
    expect(customerWindow(last, at(CUSTOMER_WINDOW_MS + 60_000))).toEqual({ windowOpen: false, windowExpiresAt: expires });
  });

  it('is closed, with no expiry, for a customer who never wrote', () => {
    expect(customerWindow(null, at(0))).toEqual({ windowOpen: false, windowExpiresAt: null });
  });
});
