/**
 * Receipts: WhatsApp statuses of our outbound messages → Genesys receipts, which is how an agent
 * learns whether a reply reached the customer. Facts: shared/reference/whatsapp-cloud-api.md
 * (statuses, out of order) and shared/reference/genesys-open-messaging.md (receipt body: only
 * `Delivered` and `Failed`, `reasons[]` on Failed).
 */

import { UnmappableMessage, nonEmpty, unixToIso } from './common';
import type { GenesysReceipt } from './genesys-types';
import { metaErrorToReason } from './meta-errors';
import type { MetaStatus } from './meta-types';

/**
 * Maps a status of one of our outbound messages to a Genesys receipt, or undefined when there is
 * nothing to tell Genesys:
 * - `delivered` → Delivered, not final (a `read` may follow).
 * - `read` → Delivered, final: Genesys' receipt endpoint documents no Read status, and `delivered`
 *   may never arrive when the user reads at once, so `read` is the delivery proof of last resort.
 *   Statuses arrive out of order: callers should drop a `delivered` after a final receipt.
 * - `failed` → Failed, final, reasons from the first Meta error (metaErrorToReason).
 * - `sent` (accepted by WhatsApp's servers, not yet on the phone), `played` (voice note listened
 *   to, always after `read`) and unknown statuses → undefined.
 * `channel.to.idType` is Phone for a digits-only recipient, Opaque otherwise (group ids, BSUIDs).
 * Throws UnmappableMessage when the status has no recipient or timestamp, or `genesysMessageId` is empty.
 */
export function metaStatusToGenesysReceipt(status: MetaStatus, genesysMessageId: string): GenesysReceipt | undefined {
  const kind = status?.status;
  if (kind !== 'delivered' && kind !== 'read' && kind !== 'failed') return undefined;
  const recipient = nonEmpty(status.recipient_id) ? status.recipient_id : nonEmpty(status.recipient_user_id) ? status.recipient_user_id : undefined;
  if (!recipient) throw new UnmappableMessage(`Status ${status.id} has no recipient`);
  if (!nonEmpty(genesysMessageId)) throw new UnmappableMessage(`Status ${status.id} has no Genesys message id`);
  const receipt: GenesysReceipt = {
    id: genesysMessageId,
    channel: {
      to: { id: recipient, idType: /^\d+$/.test(recipient) ? 'Phone' : 'Opaque' },
      time: unixToIso(status.timestamp, `Status ${status.id}`),
    },
    status: kind === 'failed' ? 'Failed' : 'Delivered',
    direction: 'Outbound',
    isFinalReceipt: kind !== 'delivered',
  };
  if (kind === 'failed') {
    const error = Array.isArray(status.errors) ? status.errors[0] : undefined;
    const detail = error?.error_data?.details ?? error?.message ?? error?.title;
    receipt.reasons = [metaErrorToReason(error?.code, error ? detail : 'WhatsApp reported the message as failed')];
  }
  return receipt;
}

/**
 * The Failed receipt for an agent's message that will not reach WhatsApp (refused for good, or
 * out of retries), so the agent sees it: final, with Meta's error (`metaCode` when Meta gave one,
 * and `message`) as the reason. `time`: when it was given up.
 */
export function agentFailedReceipt(
  message: { genesysMessageId: string; waId: string },
  error: { metaCode?: number; message: string },
  time = new Date(),
): GenesysReceipt {
  return {
    id: message.genesysMessageId,
    channel: { to: { id: message.waId, idType: 'Phone' }, time: time.toISOString() },
    status: 'Failed',
    direction: 'Outbound',
    isFinalReceipt: true,
    reasons: [metaErrorToReason(error.metaCode, error.message)],
  };
}
