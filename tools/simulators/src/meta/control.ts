/** The Meta simulator's own `/_sim/*` routes (the shared ones are in ../control.ts). */
import { answerControl } from '../control';
import type { SimRequest, SimResponse } from '../common';
import type { MetaNumberOptions } from './numbers';
import type { MetaTemplateOptions } from './templates';
import {
  buildAudioMessage,
  buildButtonMessage,
  buildButtonReplyMessage,
  buildContactsMessage,
  buildDocumentMessage,
  buildFailedStatus,
  buildImageMessage,
  buildListReplyMessage,
  buildLocationMessage,
  buildReactionMessage,
  buildStatus,
  buildStickerMessage,
  buildTextMessage,
  buildUnsupportedMessage,
  buildVideoMessage,
  type MetaWebhookPayload,
} from './webhook-payloads';
import type { MetaSimulator, TemplateStatusDelivery } from './index';

/** `POST /_sim/deliver`'s `kind`: which builder makes the payload. */
const builders: Record<string, (o: never) => MetaWebhookPayload> = {
  text: buildTextMessage,
  image: buildImageMessage,
  video: buildVideoMessage,
  audio: buildAudioMessage,
  document: buildDocumentMessage,
  sticker: buildStickerMessage,
  location: buildLocationMessage,
  contacts: buildContactsMessage,
  button_reply: buildButtonReplyMessage,
  list_reply: buildListReplyMessage,
  button: buildButtonMessage,
  reaction: buildReactionMessage,
  unsupported: buildUnsupportedMessage,
  status: buildStatus,
  failed_status: buildFailedStatus,
};

export function control(sim: MetaSimulator, req: SimRequest): Promise<SimResponse> {
  return answerControl(req, sim, 'phoneNumberId', {
    'POST /_sim/numbers': (input) => {
      sim.addNumber(input as unknown as MetaNumberOptions);
      return { status: 201, body: { ok: true } };
    },
    'POST /_sim/media': (input) => {
      const { base64, ...rest } = input as { base64?: string; mediaId: string; mimeType: string; phoneNumberId?: string };
      return { status: 201, body: sim.addMedia({ ...rest, bytes: Buffer.from(base64 ?? '', 'base64') }) };
    },
    'POST /_sim/templates': (input) => ({ status: 201, body: sim.addTemplate(input as unknown as MetaTemplateOptions) }),
    'GET /_sim/templates': () => ({ status: 200, body: sim.templates() }),
    // {url, appSecret, wabaId, name, language, event, reason?}
    'POST /_sim/template-status': async (input) => {
      const result = await sim.deliverTemplateStatus(input as unknown as TemplateStatusDelivery);
      return { status: 200, body: { ...result, body: undefined } };
    },
    // {phoneNumberId, waId} and one of: at (ISO date-time or unix seconds), hoursAgo, or clear: true
    'POST /_sim/customer-window': (input) => {
      const { phoneNumberId, waId, at, hoursAgo, clear } = input;
      if (typeof phoneNumberId !== 'string' || typeof waId !== 'string') throw new TypeError('phoneNumberId and waId are required');
      let when: number | null = NaN;
      if (clear === true) when = null;
      else if (typeof hoursAgo === 'number') when = Date.now() - hoursAgo * 3_600_000;
      else if (typeof at === 'number') when = at * 1000;
      else if (typeof at === 'string') when = Date.parse(at);
      sim.setCustomerLastMessage({ phoneNumberId, waId, at: when });
      return { status: 200, body: { ok: true, lastMessageAt: sim.customerLastMessage(phoneNumberId, waId) ?? null } };
    },
    'POST /_sim/window-enforcement': (input) => {
      sim.setWindowEnforcement(input.on === true);
      return { status: 200, body: { ok: true } };
    },
    // {on: true, intervalMs?, burst?} (Meta's figures for what is left out) or {on: false}
    'POST /_sim/pair-rate-limit': (input) => {
      const { on, intervalMs, burst } = input;
      sim.setPairRateLimit(on === false ? null : { ...(intervalMs !== undefined ? { intervalMs: Number(intervalMs) } : {}), ...(burst !== undefined ? { burst: Number(burst) } : {}) });
      return { status: 200, body: { ok: true, pairRateLimit: sim.pairRateLimit } };
    },
    // {supported: boolean}: sends to business-scoped user ids accepted, or refused with 131062
    'POST /_sim/bsuid-recipients': (input) => {
      sim.setBsuidRecipients(input.supported !== false);
      return { status: 200, body: { ok: true } };
    },
    'GET /_sim/sent': () => ({ status: 200, body: sim.sent }),
    'GET /_sim/reads': () => ({ status: 200, body: sim.reads }),
    'GET /_sim/calls': () => ({ status: 200, body: sim.calls }),
    // {url, appSecret, kind, ...builder options} or {url, appSecret, payload}
    'POST /_sim/deliver': async (input) => {
      const { url, appSecret, kind, payload, duplicate, ...builderOptions } = input;
      let body = payload;
      if (body === undefined) {
        const build = builders[String(kind ?? 'text')];
        if (!build) return { status: 400, body: { error: `unknown kind ${String(kind)}; one of ${Object.keys(builders).join(', ')}` } };
        body = build(builderOptions as never);
      }
      const result = await sim.deliverWebhook({ url: String(url), appSecret: String(appSecret), payload: body, duplicate: duplicate === true });
      return { status: 200, body: { ...result, body: undefined } };
    },
  });
}
