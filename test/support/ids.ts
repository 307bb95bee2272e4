import { randomBytes } from 'node:crypto';

/** A tenant id unique to this test, so suites sharing a Redis never see each other's keys. */
export function uniqueTenantId(prefix = 't'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** A numeric id (phone number ids, WABA ids) unique to this test. */
export function uniqueNumericId(): string {
  return `1${Date.now() % 1e9}${Math.floor(Math.random() * 1e6)}`.slice(0, 15);
}
