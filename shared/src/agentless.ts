import { createHash } from 'node:crypto';

/**
 * The agentless copy of a proactive message (`POST /messages`): once the message reached
 * WhatsApp, its text is posted to the tenant's Genesys conversation with the customer through
 * Genesys's agentless messages API, so the agent who later gets the customer's answer sees what
 * they answer. Genesys then delivers that copy to our outbound webhook like an agent's message
 * (shared/reference/genesys-open-messaging.md, "Structured content, typing and agentless
 * messages"); webhook-service recognises it (agentless_echoes: by its Genesys id, or by recipient
 * and `agentlessTextHash`) and does not send it to WhatsApp again. Pure: the SQL is in the
 * services (genesys-connector/src/api-messages.ts, webhook-service/src/store.ts).
 */

/**
 * The most `textBody` an agentless message may carry on channels other than SMS, in characters
 * (platform SDK, `SendAgentlessOutboundMessageRequest`; README, "Reference notes").
 */
export const AGENTLESS_TEXT_MAX = 2000;

/**
 * The `textBody` posted for `rendered` (the text the customer was shown): as it is, or cut to
 * AGENTLESS_TEXT_MAX UTF-16 units ending with an ellipsis (never half a surrogate pair).
 */
export function agentlessText(rendered: string): string {
  if (rendered.length <= AGENTLESS_TEXT_MAX) return rendered;
  let cut = AGENTLESS_TEXT_MAX - 1;
  const last = rendered.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return `${rendered.slice(0, cut)}…`;
}

/** SHA-256 (hex) of an agentless `textBody`: how its copy coming back through our webhook is recognised. */
export function agentlessTextHash(textBody: string): string {
  return createHash('sha256').update(textBody, 'utf8').digest('hex');
}
