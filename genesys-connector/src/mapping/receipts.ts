/**
 * Receipts: WhatsApp statuses of our outbound messages → Genesys receipts, which is how an agent
 * learns whether a reply reached the customer. Facts: shared/reference/whatsapp-cloud-api.md
 * (statuses, out of order) and shared/reference/genesys-open-messaging.md (receipt body: only
 * `Delivered` and `Failed`, `reasons[]` on Failed, `isFinalReceipt`).
 *
 * An agent reply may take several WhatsApp sends (text, then each attachment: its parts), each
 * with its own wamid and statuses. The agent sees one message, so the receipts follow the whole
 * message (overallStatus, receiptDue):
 * - a part failed → Failed, final, naming the part when there are several ("Part 2 of 2 (audio): …");
 * - every part read → Delivered, final: Genesys' receipt endpoint documents no Read status, and
 *   `delivered` may never arrive when the user reads at once;
 * - every part delivered (or read) → Delivered, not final, once;
 * - `sent`, `played` (after `read`) and unknown statuses change nothing a receipt shows.
 * Nothing is posted after the final receipt: statuses arrive out of order, and a late `delivered`
 * must not follow the final one.
 */

import { genesysIdType } from '@bridge/shared';
import { UnmappableMessage, nonEmpty, truncateText, unixToIso } from './common';
import type { GenesysReason, GenesysReasonCode, GenesysReceipt } from './genesys-types';
import { metaErrorText, metaErrorToReason, type MetaErrorText } from './meta-errors';
import type { MetaStatus } from './meta-types';

/** The statuses a part (and a sent message) goes through, in order; `failed` stands apart. */
const RANK: Record<string, number> = { pending: 0, sent: 1, delivered: 2, read: 3 };

/**
 * A part's (or a message's) status after WhatsApp reports `next`: statuses only move forward (a
 * late `delivered` never replaces `read`), and a failure replaces any status but `read`.
 * Undefined: nothing changes (including `played` and statuses Meta may add).
 */
export function advanceStatus(current: string, next: string): string | undefined {
  if (next === 'failed') return current !== 'read' && current !== 'failed' ? 'failed' : undefined;
  if (current === 'failed' || RANK[next] === undefined) return undefined;
  return RANK[next] > (RANK[current] ?? Infinity) ? next : undefined;
}

/**
 * The status of a whole agent message from its parts' (`parts`: part number → status, for the
 * parts WhatsApp accepted; a part not listed is not sent yet and counts as `pending`): `failed`
 * if any part failed, else the least advanced part's.
 */
export function overallStatus(partCount: number, parts: ReadonlyMap<number, string>): string {
  let least = 'read';
  for (let part = 1; part <= partCount; part++) {
    const status = parts.get(part) ?? 'pending';
    if (status === 'failed') return 'failed';
    if ((RANK[status] ?? 0) < RANK[least]) least = RANK[status] === undefined ? 'pending' : status;
  }
  return least;
}

/** What Genesys has been told about an agent message: a Delivered that is not final, or the final receipt. */
export type ReceiptsPosted = 'delivered' | 'final' | null;

/** A receipt to post: its status and whether it is the message's last. */
export interface ReceiptDue {
  status: 'Delivered' | 'Failed';
  isFinalReceipt: boolean;
}

/** The receipt a message's overall status calls for, given what was posted; undefined: none. */
export function receiptDue(overall: string, posted: ReceiptsPosted): ReceiptDue | undefined {
  if (posted === 'final') return undefined;
  if (overall === 'failed') return { status: 'Failed', isFinalReceipt: true };
  if (overall === 'read') return { status: 'Delivered', isFinalReceipt: true };
  if (overall === 'delivered' && posted === null) return { status: 'Delivered', isFinalReceipt: false };
  return undefined;
}

/** One part of a message: which (1-based) of how many, and what it carried (`text`, `audio`, ...). */
export interface PartRef {
  part: number;
  partCount: number;
  kind: string;
}

/** "Part 2 of 2 (audio)"; empty for a message sent whole. */
export const partLabel = (ref: PartRef | undefined): string => (ref && ref.partCount > 1 ? `Part ${ref.part} of ${ref.partCount} (${ref.kind})` : '');

/** The agent message a receipt is about: its Genesys id, and the customer as Genesys addressed them. */
export interface ReceiptTarget {
  genesysMessageId: string;
  /** The `channel.to.id` of Genesys' message (a phone number, or an opaque id). */
  to: string;
}

/** A Genesys failure reason for a failed Meta send or status, naming the part when there are several. */
export function failureReason(code: number | undefined, text: MetaErrorText, part?: PartRef): GenesysReason {
  const reason = metaErrorToReason(code, text);
  const label = partLabel(part);
  return label ? { code: reason.code, message: truncateText(`${label}: ${reason.message}`, 1000) } : reason;
}

/**
 * The receipt body for `target`. `time`: ISO 8601. `reason` goes with a Failed receipt.
 * Throws UnmappableMessage when the target has no Genesys id or no recipient.
 */
export function buildReceipt(target: ReceiptTarget, due: ReceiptDue, time: string, reason?: GenesysReason): GenesysReceipt {
  if (!nonEmpty(target.genesysMessageId)) throw new UnmappableMessage('The agent message has no Genesys message id');
  if (!nonEmpty(target.to)) throw new UnmappableMessage(`Agent message ${target.genesysMessageId} has no recipient`);
  const receipt: GenesysReceipt = {
    id: target.genesysMessageId,
    channel: { to: { id: target.to, idType: genesysIdType(target.to) }, time },
    status: due.status,
    direction: 'Outbound',
    isFinalReceipt: due.isFinalReceipt,
  };
  if (due.status === 'Failed') {
    receipt.reasons = [reason ?? { code: 'GeneralError', message: 'WhatsApp reported the message as failed.' }];
  }
  return receipt;
}

/**
 * What one Meta status of one part changes for the agent: the part's new status (undefined:
 * unchanged), its failure reason when it failed, and the receipt to post (undefined: none).
 * - `progress.parts`: every accepted part's status before this one, by part number;
 * - `progress.posted`: what Genesys was told so far.
 * Throws UnmappableMessage when a receipt is due but the status has no usable timestamp, or the
 * target no id or recipient.
 */
export function statusReceipt(
  status: MetaStatus,
  target: ReceiptTarget,
  part: PartRef,
  progress: { parts: ReadonlyMap<number, string>; posted: ReceiptsPosted },
): { partStatus?: string; failure?: GenesysReason; receipt?: GenesysReceipt } {
  const partStatus = advanceStatus(progress.parts.get(part.part) ?? 'sent', status?.status);
  if (!partStatus) return {};
  const error = Array.isArray(status.errors) ? status.errors[0] : undefined;
  const failure =
    partStatus === 'failed' ? failureReason(error?.code, error ? metaErrorText(error) : { details: 'WhatsApp reported the message as failed' }, part) : undefined;
  const due = receiptDue(overallStatus(part.partCount, new Map(progress.parts).set(part.part, partStatus)), progress.posted);
  if (!due) return { partStatus, failure };
  return { partStatus, failure, receipt: buildReceipt(target, due, unixToIso(status.timestamp, `Status ${status.id}`), failure) };
}

/**
 * The Failed receipt for an agent's message that will not reach WhatsApp (refused for good, or
 * out of retries), so the agent sees it: final, with Meta's error (`metaCode` and Meta's own
 * words when Meta gave them; else `message`, ours) as the reason, naming the part that failed
 * when there were several. A refusal of the bridge's own (the customer's window, a template
 * command) gives its Genesys `reason` code and its `message` as written (at most 1000
 * characters). `time`: when it was given up.
 */
export function agentFailedReceipt(
  target: ReceiptTarget,
  error: { metaCode?: number; meta?: MetaErrorText; message: string; part?: PartRef; reason?: GenesysReasonCode },
  time = new Date(),
): GenesysReceipt {
  const reason: GenesysReason =
    error.reason && error.metaCode === undefined
      ? { code: error.reason, message: truncateText(error.message, 1000) }
      : failureReason(error.metaCode, error.meta ?? (error.metaCode === undefined ? { details: error.message } : { title: error.message }), error.part);
  return buildReceipt(target, { status: 'Failed', isFinalReceipt: true }, time.toISOString(), reason);
}
