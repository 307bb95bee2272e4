/** The Meta simulator's own `/_sim/*` routes (the shared ones are in ../control.ts). */
import { answerControl } from '../control';
import type { SimRequest, SimResponse } from '../common';
import type { MetaNumberOptions } from './numbers';
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
import type { MetaSimulator } from './index';

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
    'GET /_sim/sent': () => ({ status: 200, body: sim.sent }),
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
