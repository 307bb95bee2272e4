/**
 * Agent replies as WhatsApp templates, and what the agent is told once the customer's 24-hour
 * window has closed. Pure: the deliveries read the window, the policy and the catalogue.
 *
 * Facts: shared/reference/whatsapp-cloud-api.md ("24-hour customer service window": after it
 * only approved templates; "Templates"). The command's form and the catalogue check are
 * shared/src/templates.ts's (`parseTemplateCommand`, `checkTemplateRequest`).
 */

import { TEMPLATE_COMMAND, approvedTemplatesListing, parseTemplateCommand, type CustomerWindow, type Template, type TemplateRequest } from '@bridge/shared';
import type { GenesysOutboundMessage } from './genesys-types';

/** Whether an agent message carries attachments (links included: a template cannot carry them either). */
export function hasAttachments(msg: GenesysOutboundMessage): boolean {
  return Array.isArray(msg?.content) && msg.content.some((c) => c?.contentType === 'Attachment');
}

/**
 * Text as WhatsApp takes it in a template parameter. Meta refuses a parameter holding a line
 * break or a tab, or more than four consecutive spaces (its error text: "Param text cannot have
 * new-line/tab characters or more than 4 consecutive spaces", as reported e.g. in
 * github.com/netflie/whatsapp-cloud-api/issues/201), so each run of whitespace holding one
 * becomes one space; the ends are trimmed.
 */
export function templateParameterText(text: string): string {
  return text.replace(/\s*[\r\n\t\v\f\u2028\u2029]\s*| {5,}/g, ' ').trim();
}

/**
 * The agent's template command in a Genesys agent message (see parseTemplateCommand: a first line
 * `/template <name> <language>`, then one parameter per line; blank lines before it are
 * ignored), with each parameter as WhatsApp takes it (templateParameterText). Undefined: the
 * message is not a command. `{ error }`: it is one, but cannot be sent (malformed, or with
 * attachments), and says what to write instead.
 */
export function agentTemplateCommand(msg: GenesysOutboundMessage): TemplateRequest | { error: string } | undefined {
  if (!msg || typeof msg.text !== 'string') return undefined;
  const command = parseTemplateCommand(msg.text.replace(/^\s+/, ''));
  if (!command || 'error' in command) return command;
  if (hasAttachments(msg)) {
    return { error: 'A template is sent on its own: remove the attachments from the template command, and send them once the customer has answered.' };
  }
  return { ...command, parameters: command.parameters.map(templateParameterText) };
}

/**
 * Why free-form messages cannot go now, for the agent: "The customer's 24-hour window closed on
 * <expiry> (their last message was at <time>)", or "The customer has not written to this number"
 * when they never did. Times are ISO 8601, UTC.
 */
export function windowClosedSentence(lastInboundAt: Date | null, window: CustomerWindow): string {
  if (!lastInboundAt || !window.windowExpiresAt) return 'The customer has not written to this number';
  return `The customer's 24-hour window closed on ${window.windowExpiresAt} (their last message was at ${lastInboundAt.toISOString()})`;
}

/** How the agent sends a template instead, and which exist. */
export function templateHowTo(catalogue: Template[]): string {
  return `write "${TEMPLATE_COMMAND} <name> <language>" on the first line, then one parameter per line. ${approvedTemplatesListing(catalogue)}`;
}

/**
 * The reason an agent reply is refused after the window (the `reject` policy; attachments under
 * any policy): what closed when, and how to send a template.
 */
export function windowClosedReason(what: 'text' | 'attachments', lastInboundAt: Date | null, window: CustomerWindow, catalogue: Template[]): string {
  const why = windowClosedSentence(lastInboundAt, window);
  const only = what === 'attachments' ? 'WhatsApp takes no attachments now, only an approved template' : 'WhatsApp only lets you send an approved template now';
  return `${why}; ${only}: ${templateHowTo(catalogue)}`;
}

/** The tenant's re-open template setting (`tenants.reopen_template`, `{name, language}`), or undefined when it is not one. */
export function reopenTemplateOf(value: unknown): { name: string; language: string } | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { name, language } = value as Record<string, unknown>;
  return typeof name === 'string' && typeof language === 'string' && name && language ? { name, language } : undefined;
}
