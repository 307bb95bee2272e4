import { buildFailedStatus, buildStatus, validateInboundReceipt } from '@bridge/simulators';
import { UnmappableMessage } from '../../src/mapping/common';
import type { GenesysReceipt } from '../../src/mapping/genesys-types';
import type { MetaStatus } from '../../src/mapping/meta-types';
import { advanceStatus, agentFailedReceipt, overallStatus, receiptDue, statusReceipt, type PartRef, type ReceiptsPosted } from '../../src/mapping/receipts';
import { bsuidStatuses, fixtureStatuses, statusByKey, statusesOf } from './fixtures';

const target = { genesysMessageId: 'g-123', to: '972987654321' };
const single: PartRef = { part: 1, partCount: 1, kind: 'text' };

function valid(receipt: GenesysReceipt | undefined) {
  if (receipt) expect(validateInboundReceipt(receipt as unknown as Record<string, unknown>)).toEqual([]);
  return receipt;
}

/** The receipt one status of a one-part message calls for, given what was posted. */
const receiptFor = (status: MetaStatus, posted: ReceiptsPosted = null, before = 'sent') =>
  valid(statusReceipt(status, target, single, { parts: new Map([[1, before]]), posted }).receipt);

const failedStatus = (wamid: string, error: { errorCode?: number; errorTitle?: string; errorDetails?: string } = {}) =>
  statusesOf(buildFailedStatus({ phoneNumberId: '1', wamid, timestamp: 1700000000, ...error }))[0];

describe('the receipt one status of a one-part message calls for', () => {
  it.each(fixtureStatuses.map((s) => [s.name, s.status] as const))('%s maps to nothing or to a receipt the simulator accepts', (_n, status) => {
    const receipt = receiptFor(status);
    expect(receipt === undefined).toBe(status.status === 'sent' || status.status === 'played');
  });

  it('delivered → Delivered, not final, shaped as the reference shows', () => {
    expect(receiptFor(statusByKey('delivered'))).toEqual({
      id: 'g-123',
      channel: { to: { id: '972987654321', idType: 'Phone' }, time: '2023-10-25T20:49:05.000Z' },
      status: 'Delivered',
      direction: 'Outbound',
      isFinalReceipt: false,
    });
  });

  it('read → Delivered and final (delivered may never come)', () => {
    expect(receiptFor(statusByKey('read'))).toMatchObject({ status: 'Delivered', isFinalReceipt: true });
    expect(receiptFor(statusByKey('read'), 'delivered', 'delivered')).toMatchObject({ status: 'Delivered', isFinalReceipt: true });
  });

  it('sent and played → nothing to send', () => {
    expect(receiptFor(statusByKey('sent'))).toBeUndefined();
    expect(receiptFor(statusByKey('played'), null, 'read')).toBeUndefined();
    expect(receiptFor(statusByKey('with_tracker'))).toBeUndefined();
  });

  it('nothing after the final receipt: a late delivered after read, or anything after Failed', () => {
    // The part's status does not move back either.
    expect(statusReceipt(statusByKey('delivered'), target, single, { parts: new Map([[1, 'read']]), posted: 'final' })).toEqual({});
    expect(receiptFor(statusByKey('delivered'), 'final', 'sent')).toBeUndefined();
    expect(receiptFor(statusByKey('read'), 'final', 'delivered')).toBeUndefined();
    expect(receiptFor(failedStatus('wamid.A'), 'final', 'delivered')).toBeUndefined();
  });

  it('one non-final Delivered, not two', () => {
    expect(receiptFor(statusByKey('delivered'), 'delivered', 'sent')).toBeUndefined();
  });

  it('failed 131047 → Failed with MessageExpired, final, in Meta\'s words', () => {
    const receipt = receiptFor(failedStatus('wamid.A'))!;
    expect(receipt).toMatchObject({ status: 'Failed', isFinalReceipt: true });
    expect(receipt.reasons).toEqual([
      {
        code: 'MessageExpired',
        message: 'Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number. (Meta #131047)',
      },
    ]);
  });

  it('the fixture failure (130472, an experiment) → MessageNotAllowed', () => {
    expect(receiptFor(statusByKey('failed'))!.reasons![0].code).toBe('MessageNotAllowed');
  });

  it('a failed status without errors is still a valid Failed receipt', () => {
    const [status] = statusesOf(buildStatus({ phoneNumberId: '1', wamid: 'wamid.B', status: 'failed', errors: [] }));
    delete status.errors;
    expect(receiptFor(status)!.reasons![0].code).toBe('GeneralError');
  });

  it('a recipient that is not a phone number is Opaque', () => {
    const receipt = statusReceipt(statusByKey('delivered'), { ...target, to: 'US.13491208655302741918' }, single, { parts: new Map(), posted: null }).receipt!;
    expect(receipt.channel.to).toEqual({ id: 'US.13491208655302741918', idType: 'Opaque' });
  });

  it('a due receipt without a usable time cannot be built (UnmappableMessage)', () => {
    expect(() => statusReceipt({ ...statusByKey('read'), timestamp: 'soon' }, target, single, { parts: new Map(), posted: null })).toThrow(UnmappableMessage);
  });
});

describe('a reply sent in several parts: one message for the agent', () => {
  const text: PartRef = { part: 1, partCount: 2, kind: 'text' };
  const audio: PartRef = { part: 2, partCount: 2, kind: 'audio' };

  it('a failed part → Failed, final, naming the part and in Meta\'s words', () => {
    const status = failedStatus('wamid.AUDIO', { errorCode: 131053, errorTitle: 'Media upload error', errorDetails: 'Unable to download the media from the link provided.' });
    const outcome = statusReceipt(status, target, audio, { parts: new Map([[1, 'delivered'], [2, 'sent']]), posted: null });
    expect(outcome.partStatus).toBe('failed');
    const reason = { code: 'MediaTypeNotAllowed', message: 'Part 2 of 2 (audio): Media upload error: Unable to download the media from the link provided. (Meta #131053)' };
    expect(outcome.failure).toEqual(reason);
    expect(valid(outcome.receipt)).toMatchObject({ status: 'Failed', isFinalReceipt: true, reasons: [reason] });
  });

  it('Delivered once every part is delivered, final once every part is read', () => {
    const delivered = statusByKey('delivered');
    const read = statusByKey('read');
    expect(statusReceipt(delivered, target, text, { parts: new Map([[1, 'sent'], [2, 'sent']]), posted: null })).toEqual({ partStatus: 'delivered' });
    expect(statusReceipt(delivered, target, audio, { parts: new Map([[1, 'delivered'], [2, 'sent']]), posted: null }).receipt).toMatchObject({
      status: 'Delivered',
      isFinalReceipt: false,
    });
    expect(statusReceipt(read, target, text, { parts: new Map([[1, 'delivered'], [2, 'delivered']]), posted: 'delivered' }).receipt).toBeUndefined();
    expect(statusReceipt(read, target, audio, { parts: new Map([[1, 'read'], [2, 'delivered']]), posted: 'delivered' }).receipt).toMatchObject({
      status: 'Delivered',
      isFinalReceipt: true,
    });
  });

  it('a part not accepted yet holds the message back', () => {
    expect(statusReceipt(statusByKey('read'), target, text, { parts: new Map(), posted: null })).toEqual({ partStatus: 'read' });
  });
});

describe('the status rules', () => {
  it('statuses only move forward; a failure replaces any but read', () => {
    expect(advanceStatus('sent', 'delivered')).toBe('delivered');
    expect(advanceStatus('read', 'delivered')).toBeUndefined();
    expect(advanceStatus('delivered', 'delivered')).toBeUndefined();
    expect(advanceStatus('delivered', 'failed')).toBe('failed');
    expect(advanceStatus('read', 'failed')).toBeUndefined();
    expect(advanceStatus('failed', 'read')).toBeUndefined();
    expect(advanceStatus('read', 'played')).toBeUndefined();
    expect(advanceStatus('pending', 'sent')).toBe('sent');
  });

  it('a message is as far as its least advanced part, and failed when one failed', () => {
    expect(overallStatus(2, new Map([[1, 'read'], [2, 'delivered']]))).toBe('delivered');
    expect(overallStatus(2, new Map([[1, 'read']]))).toBe('pending');
    expect(overallStatus(3, new Map([[1, 'read'], [2, 'failed']]))).toBe('failed');
    expect(overallStatus(1, new Map([[1, 'read']]))).toBe('read');
  });

  it('receipts: one Delivered, then the final one, then nothing', () => {
    expect(receiptDue('delivered', null)).toEqual({ status: 'Delivered', isFinalReceipt: false });
    expect(receiptDue('delivered', 'delivered')).toBeUndefined();
    expect(receiptDue('read', 'delivered')).toEqual({ status: 'Delivered', isFinalReceipt: true });
    expect(receiptDue('failed', 'delivered')).toEqual({ status: 'Failed', isFinalReceipt: true });
    expect(receiptDue('read', 'final')).toBeUndefined();
    expect(receiptDue('failed', 'final')).toBeUndefined();
    expect(receiptDue('sent', null)).toBeUndefined();
  });
});

describe('agentFailedReceipt: a send given up', () => {
  it('reads Meta\'s error once, naming the part when there were several', () => {
    const receipt = valid(
      agentFailedReceipt(target, {
        metaCode: 131047,
        meta: { title: '(#131047) Re-engagement message', details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' },
        message: 'ignored: Meta gave its own words',
        part: { part: 1, partCount: 2, kind: 'text' },
      }),
    )!;
    expect(receipt).toMatchObject({ id: 'g-123', status: 'Failed', isFinalReceipt: true });
    expect(receipt.reasons).toEqual([
      {
        code: 'MessageExpired',
        message:
          'Part 1 of 2 (text): Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number. (Meta #131047)',
      },
    ]);
  });

  it('a refusal of the bridge (the window, a template command) carries its own Genesys reason and its message as written', () => {
    const message = "The customer's 24-hour window closed on 2025-01-02T10:00:00.000Z (their last message was at 2025-01-01T10:00:00.000Z); …";
    expect(valid(agentFailedReceipt(target, { message, reason: 'MessageExpired' }))!.reasons).toEqual([{ code: 'MessageExpired', message }]);
    const long = 'x'.repeat(1500);
    const [reason] = agentFailedReceipt(target, { message: long, reason: 'InvalidMessageStructure' }).reasons!;
    expect(reason.code).toBe('InvalidMessageStructure');
    expect(reason.message).toHaveLength(1000);
  });

  it('a failure of ours (no Meta code) reads as we wrote it', () => {
    expect(agentFailedReceipt(target, { message: 'The tenant has no Meta credentials yet' }).reasons).toEqual([
      { code: 'GeneralError', message: 'The tenant has no Meta credentials yet.' },
    ]);
  });
});

describe('statuses of replies to customers without a phone number', () => {
  const BSUID = 'GB.8391027465019283746';
  const target = { genesysMessageId: 'g-bsuid', to: BSUID };
  const single: PartRef = { part: 1, partCount: 1, kind: 'text' };

  it.each(bsuidStatuses.map((s) => [s.name, s.status] as const))('%s (recipient_user_id, maybe no recipient_id) → a receipt Genesys accepts, Opaque', (_name, status) => {
    const outcome = statusReceipt(status, target, single, { parts: new Map(), posted: null });
    if (!outcome.receipt) return expect(status.status).toBe('sent');
    expect(validateInboundReceipt(outcome.receipt as unknown as Record<string, unknown>)).toEqual([]);
    expect(outcome.receipt.channel.to).toEqual({ id: BSUID, idType: 'Opaque' });
  });

  it('131062 (a BSUID cannot receive this message) → Failed, UnsupportedMessage, saying why', () => {
    const failed = bsuidStatuses.find((s) => s.name === 'failed_to_bsuid#0')!.status;
    const receipt = statusReceipt(failed, target, single, { parts: new Map(), posted: null }).receipt!;
    expect(receipt).toMatchObject({ status: 'Failed', isFinalReceipt: true });
    expect(receipt.reasons![0].code).toBe('UnsupportedMessage');
    expect(receipt.reasons![0].message).toContain('(Meta #131062)');
  });

  it('a send refused with 131062 → a Failed receipt whose reason explains it to the agent', () => {
    const receipt = agentFailedReceipt(target, { metaCode: 131062, message: 'Business-scoped User ID recipients are not supported for this message' });
    expect(receipt.reasons).toEqual([
      { code: 'UnsupportedMessage', message: expect.stringMatching(/^Business-scoped User ID recipients are not supported for this message.*\(Meta #131062\)$/) },
    ]);
    expect(validateInboundReceipt(receipt as unknown as Record<string, unknown>)).toEqual([]);
  });
});
