import { buildFailedStatus, buildStatus, validateInboundReceipt } from '@bridge/simulators';
import type { MetaStatus } from '../../src/mapping/meta-types';
import { metaStatusToGenesysReceipt } from '../../src/mapping/receipts';
import { fixtureStatuses, statusByKey, statusesOf } from './fixtures';

function receiptValid(status: MetaStatus, id = 'g-123') {
  const receipt = metaStatusToGenesysReceipt(status, id);
  if (receipt) expect(validateInboundReceipt(receipt as unknown as Record<string, unknown>)).toEqual([]);
  return receipt;
}

describe('metaStatusToGenesysReceipt', () => {
  it.each(fixtureStatuses.map((s) => [s.name, s.status] as const))('%s maps to nothing or to a receipt the simulator accepts', (_n, status) => {
    const receipt = receiptValid(status);
    expect(receipt === undefined).toBe(status.status === 'sent' || status.status === 'played');
  });

  it('delivered → Delivered, not final, shaped as the reference shows', () => {
    expect(receiptValid(statusByKey('delivered'), 'abc')).toEqual({
      id: 'abc',
      channel: { to: { id: '972987654321', idType: 'Phone' }, time: '2023-10-25T20:49:05.000Z' },
      status: 'Delivered',
      direction: 'Outbound',
      isFinalReceipt: false,
    });
  });

  it('read → Delivered and final (delivered may never come)', () => {
    expect(receiptValid(statusByKey('read'))).toMatchObject({ status: 'Delivered', isFinalReceipt: true });
  });

  it('sent and played → nothing to send', () => {
    expect(metaStatusToGenesysReceipt(statusByKey('sent'), 'g')).toBeUndefined();
    expect(metaStatusToGenesysReceipt(statusByKey('played'), 'g')).toBeUndefined();
    expect(metaStatusToGenesysReceipt(statusByKey('with_tracker'), 'g')).toBeUndefined();
  });

  it('failed 131047 → Failed with MessageExpired, final', () => {
    const [status] = statusesOf(buildFailedStatus({ phoneNumberId: '1', wamid: 'wamid.A', timestamp: 1700000000 }));
    const receipt = receiptValid(status)!;
    expect(receipt.status).toBe('Failed');
    expect(receipt.isFinalReceipt).toBe(true);
    expect(receipt.reasons).toHaveLength(1);
    expect(receipt.reasons![0].code).toBe('MessageExpired');
    expect(receipt.reasons![0].message).toContain('131047');
  });

  it('the fixture failure (130472, an experiment) → MessageNotAllowed', () => {
    expect(receiptValid(statusByKey('failed'))!.reasons![0].code).toBe('MessageNotAllowed');
  });

  it('a failed status without errors is still a valid Failed receipt', () => {
    const [status] = statusesOf(buildStatus({ phoneNumberId: '1', wamid: 'wamid.B', status: 'failed', errors: [] }));
    delete status.errors;
    expect(receiptValid(status)!.reasons![0].code).toBe('GeneralError');
  });

  it('a group recipient (not a phone number) is Opaque', () => {
    expect(receiptValid(statusByKey('group'))!.channel.to).toEqual({ id: 'fowefinoewcnw', idType: 'Opaque' });
  });
});
