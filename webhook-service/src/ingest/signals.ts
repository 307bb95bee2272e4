import { queueAgentActivitySignal, type Queryable } from '@bridge/shared';
import type { IngestDeps } from './deps';

/**
 * What an agent's activity in Genesys tells the customer on WhatsApp besides messages: a
 * Genesys `Typing` event becomes a typing indicator, a reply a read mark (per the tenant's
 * `markRead`; deduplicated and decided in shared/src/whatsapp-signals.ts). Queued in the
 * webhook's transaction, in the customer's signal lane, never in front of a message.
 */

/**
 * A Genesys typing event from the agent's side: `type: "Event"` with an `events[]` item of
 * `eventType: "Typing"` (and `typing.type` "On", or none), not inbound (genesys-open-messaging.md,
 * "Outbound: agent reply → our webhook").
 */
export function isAgentTyping(body: { type: string; direction?: string; events?: unknown }): boolean {
  if (body.type !== 'Event' || body.direction === 'Inbound' || !Array.isArray(body.events)) return false;
  return body.events.some((e) => {
    const event = e as { eventType?: unknown; typing?: { type?: unknown } } | null;
    return event?.eventType === 'Typing' && (event.typing?.type === undefined || event.typing.type === 'On');
  });
}

/**
 * The agent typed (`typing`) or replied (`reply`) to `customer` (`channel.to.id`): queues what
 * that calls for, if anything (queueAgentActivitySignal). Returns whether a signal was queued (the
 * caller wakes the workers after commit).
 */
export async function queueAgentSignal(
  q: Queryable,
  deps: Pick<IngestDeps, 'typingIntervalMs'>,
  tenantId: string,
  customer: string | undefined,
  activity: 'typing' | 'reply',
): Promise<boolean> {
  if (!customer) return false;
  return (await queueAgentActivitySignal(q, tenantId, customer, activity, deps.typingIntervalMs)) !== undefined;
}
