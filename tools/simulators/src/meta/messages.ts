/**
 * `POST /{version}/{phone-number-id}/messages`: a send, authorised by the number's own token
 * (any token problem is 401 with code 190), checked against the send body's rules (a phone
 * number in `to`, or a BSUID in `recipient`), then against the number's template catalogue
 * (templates) or the 24-hour window (anything else, when enforced), then whether a BSUID may
 * receive it (131062: users.ts), then against the pair rate limit (when on; one per user,
 * whichever id names them), recorded, and answered with a new wamid.
 */
import { randomBytes } from 'node:crypto';
import { bearerToken, isObject, mediaType, parseJson, Recorder, redactHeaders, type SimRequest, type SimResponse } from '../common';
import { WINDOW_CLOSED_DETAILS, type CustomerWindows } from './customer-window';
import { metaError, type MetaFaults } from './faults';
import type { MetaNumbers } from './numbers';
import { PAIR_RATE_LIMIT_DETAILS, type PairRates } from './pair-rate';
import { sendAddress, validateSendBody, type MetaSendBody } from './send-body';
import type { MetaTemplateRender, MetaTemplates } from './templates';
import { BSUID_UNSUPPORTED_DETAILS, BSUID_UNSUPPORTED_TITLE, type MetaUsers } from './users';

export interface MetaSendRecord {
  phoneNumberId: string;
  version: string;
  body: MetaSendBody;
  /** The bearer token that authorised the send. */
  token: string;
  headers: Record<string, string>;
  /** The wamid returned. */
  wamid: string;
  /** Template sends: the template and its text as the user sees it. */
  template?: MetaTemplateRender;
  time: Date;
}

const newWamidFor = (to: string): string =>
  `wamid.${Buffer.concat([Buffer.from(`HBgL${to}FQIAERgS`), randomBytes(18)]).toString('base64')}`;

/** The messages endpoint of one simulator and the sends it accepted. */
export class MetaMessages {
  readonly sent = new Recorder<MetaSendRecord>();

  constructor(
    private readonly numbers: MetaNumbers,
    private readonly faults: MetaFaults,
    private readonly templates: MetaTemplates,
    private readonly windows: CustomerWindows,
    private readonly pairRates: PairRates,
    private readonly users: MetaUsers,
  ) {}

  handleSend(req: SimRequest, versionSeg: string, phoneNumberId: string): SimResponse {
    if (req.method !== 'POST') {
      return metaError(100, { message: `Unsupported ${req.method.toLowerCase()} request.`, subcode: 33 });
    }
    const token = bearerToken(req.headers);
    if (!token) return metaError(190, { message: 'An access token is required to request this resource.' });
    if (!this.numbers.tokenIsKnown(token)) return metaError(190);
    if (this.numbers.tokenOf(phoneNumberId) !== token) {
      return metaError(190, { message: `The access token is not valid for phone number ${phoneNumberId}` });
    }
    const fault = this.faults.take({ endpoint: 'messages', phoneNumberId });
    if (fault) return fault;
    if (mediaType(req.headers) !== 'application/json') {
      return metaError(100, { message: 'Content-Type must be application/json' });
    }
    const body = parseJson(req.body);
    if (!isObject(body)) return metaError(100, { message: 'The request body is not a valid JSON object' });
    const errors = validateSendBody(body);
    if (errors.length > 0) return metaError(100, { message: errors[0], details: errors.join('; ') });

    const send = body as unknown as MetaSendBody;
    const user = sendAddress(send);
    let template: MetaTemplateRender | undefined;
    if (send.type === 'template' && send.template) {
      const waba = this.numbers.wabaOf(phoneNumberId);
      const checked = this.templates.checkSend(waba, send.template);
      if ('error' in checked) return checked.error;
      template = checked.render;
      if (user.by === 'recipient' && this.templates.find(waba, send.template.name, send.template.language.code)?.category === 'AUTHENTICATION') {
        return metaError(131062, { message: BSUID_UNSUPPORTED_TITLE, details: BSUID_UNSUPPORTED_DETAILS });
      }
    } else if (this.windows.enforce && !this.windows.isOpen(phoneNumberId, user.id)) {
      return metaError(131047, { details: WINDOW_CLOSED_DETAILS });
    }
    if (user.by === 'recipient' && !this.users.bsuidRecipients) {
      return metaError(131062, { message: BSUID_UNSUPPORTED_TITLE, details: BSUID_UNSUPPORTED_DETAILS });
    }
    // One user, one pair, whichever id the send names them by.
    if (!this.pairRates.take(phoneNumberId, this.users.canonical(user.id))) return metaError(131056, { details: PAIR_RATE_LIMIT_DETAILS });
    const wamid = newWamidFor(user.id);
    this.sent.push({
      phoneNumberId,
      version: versionSeg,
      body: send,
      token,
      headers: redactHeaders(req.headers),
      wamid,
      ...(template ? { template } : {}),
      time: new Date(),
    });
    return {
      status: 200,
      body: {
        messaging_product: 'whatsapp',
        // A send to a BSUID is answered with the user's `user_id` instead of `wa_id`.
        contacts: [user.by === 'to' ? { input: user.id, wa_id: user.id } : { input: user.id, user_id: user.id }],
        // Templates are answered with a message_status, as Meta does.
        messages: [send.type === 'template' ? { id: wamid, message_status: 'accepted' } : { id: wamid }],
      },
    };
  }
}
