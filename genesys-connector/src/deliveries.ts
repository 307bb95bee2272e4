import {
  checkTemplateRequest,
  customerWindow,
  quotaBlockReason,
  lanes,
  listTemplates,
  queueDeliveredReadMark,
  templateSendBody,
  type CredentialsClient,
  type Database,
  type Job,
  type Outbox,
  type OutboxNotifier,
  type Queryable,
} from '@bridge/shared';
import { apiMessageSends, createAgentlessCopies, queueAgentlessCopy } from './api-messages';
import { DeliveryError, permanent, refused, transient } from './errors';
import type { GenesysClient } from './genesys-client';
import {
  UnmappableMessage,
  agentFailedReceipt,
  agentTemplateCommand,
  genesysOutboundPlan,
  inboundParts,
  metaMessageToGenesys,
  partLabel,
  reopenTemplateOf,
  statusReceipt,
  templateHowTo,
  templateParameterText,
  windowClosedReason,
  windowClosedSentence,
  type GenesysInboundMessage,
  type GenesysOutboundMessage,
  type GenesysReceipt,
  type MetaMessage,
  type MetaStatus,
  type OutboundPlan,
} from './mapping';
import type { MetaClient } from './meta-client';
import * as messages from './messages';

export interface DeliveryDeps {
  db: Database;
  outbox: Outbox;
  /** Wakes the workers for the receipts that giving up (or moving a status to its lane) queues. */
  notifier: Pick<OutboxNotifier, 'touch'>;
  genesys: Pick<GenesysClient, 'send' | 'agentless'>;
  meta: Pick<MetaClient, 'send'>;
  credentials: Pick<CredentialsClient, 'meta'>;
  /** Our signed, expiring link for a Meta media id (Genesys fetches attachments itself). */
  mediaUrl: (tenantId: string, media: { mediaId: string; mimeType: string; filename?: string }) => string;
  /** Read marks and typing indicators (`to_whatsapp_signal`, signals.ts); without it they are dropped unsent. */
  signals?: (job: Job) => Promise<void>;
  /** Tenant notifications (`to_tenant_notification`, notifications.ts); without it they are completed unsent. */
  notifications?: (job: Job) => Promise<void>;
}

/**
 * One delivery of each kind: load, map, send, record. Each either completes (its outcome and the
 * removal of the job committed together), or throws a DeliveryError for the worker to retry or
 * end (see `afterFailure` in the outbox module), and `giveUp` records the end.
 */
export function createDeliveries(deps: DeliveryDeps) {
  const { db, outbox } = deps;
  const agentlessCopies = createAgentlessCopies(deps);

  /**
   * Removes the job and records the outcome (if any), in one transaction: when another worker has
   * claimed the job since (this attempt stalled past its lease), `complete` throws LeaseLost and
   * the outcome is not recorded either; that worker records its own.
   */
  const record = (job: Job, outcome?: (q: Queryable) => Promise<unknown>) =>
    db.withTenant(job.tenantId, async (q) => {
      await outbox.complete(q, job);
      if (outcome) await outcome(q);
    });

  /** The job's customer message (with the choices it may answer), unless it is gone or no longer waits for this delivery. */
  async function pendingMessage(job: Job): Promise<messages.CustomerMessage | undefined> {
    const msg = await db.withTenant(job.tenantId, (q) => messages.findCustomerMessage(q, job.tenantId, job.messageId!));
    return msg?.status === 'pending' ? msg : undefined;
  }

  /**
   * Sends the parts of one message in turn (`send(i)`, `kinds[i]` what part i carries), resuming
   * after the parts a previous attempt saved in the job's payload under `key`: a part the provider
   * accepted is not sent again when a later one is retried. `accepted` runs for each part but the
   * last (whose outcome the caller records with the job's completion), once its progress is
   * saved. A failure names its part (DeliveryError.part) when there are several.
   */
  async function sendInParts<R>(
    job: Job,
    key: string,
    kinds: string[],
    send: (i: number) => Promise<R>,
    accepted?: (i: number, result: R) => Promise<void>,
  ): Promise<R[]> {
    const done = [...((job.payload[key] as R[] | undefined) ?? [])];
    for (let i = done.length; i < kinds.length; i++) {
      try {
        done.push(await send(i));
      } catch (err) {
        if (err instanceof DeliveryError && kinds.length > 1) err.part = { part: i + 1, partCount: kinds.length, kind: kinds[i] };
        throw err;
      }
      if (i < kinds.length - 1) {
        // Progress first: it is fenced (LeaseLost once another claim took the job), so a stale
        // attempt records no part; a part saved but not yet recorded is recorded on completion.
        await outbox.saveProgress(job, { ...job.payload, [key]: done });
        await accepted?.(i, done[i]);
      }
    }
    return done;
  }

  /**
   * WhatsApp → Genesys: a customer's message to the tenant's agents. A text over Genesys' size is
   * sent as several messages, in order (inboundParts), each part's Genesys id kept.
   */
  async function toGenesysMessage(job: Job): Promise<void> {
    const msg = await pendingMessage(job);
    if (!msg) return record(job);
    const parts = mapOrFail('UNMAPPABLE_MESSAGE', () => inboundParts(inboundBody(job.tenantId, msg)));
    type Answer = { id?: string; conversationId?: string };
    const kinds = parts.map((p) => (p.content ? 'attachment' : 'text'));
    const answers = await sendInParts<Answer>(job, 'genesysParts', kinds, async (i) => {
      const res = await deps.genesys.send<Answer>(job.tenantId, 'message', parts[i]);
      return { id: res?.id, conversationId: res?.conversationId };
    });
    await record(job, async (q) => {
      if (parts.length > 1) {
        for (const [i, answer] of answers.entries()) {
          const part = { messageId: msg.id, part: i + 1, partCount: parts.length, kind: kinds[i], status: 'delivered' as const };
          await messages.recordPart(q, job.tenantId, { ...part, genesysMessageId: answer.id });
        }
      }
      await messages.recordDeliveredToGenesys(q, job.tenantId, msg, {
        messageId: answers[0]?.id,
        conversationId: answers.find((a) => a.conversationId)?.conversationId,
      });
      // Tenants with markRead 'on-delivery': blue ticks now (shared/src/whatsapp-signals.ts).
      await queueDeliveredReadMark(q, job.tenantId, msg);
    });
  }

  function inboundBody(tenantId: string, msg: messages.CustomerMessage): GenesysInboundMessage {
    const payload = msg.payload as { message: MetaMessage; contact?: { profile?: { name?: string; username?: string }; user_id?: string } | null };
    return metaMessageToGenesys(payload.message, {
      tenantId,
      waId: msg.waId ?? undefined,
      userId: payload.contact?.user_id,
      profileName: payload.contact?.profile?.name,
      username: payload.contact?.profile?.username,
      genesysId: msg.genesysId ?? undefined,
      time: msg.providerTime?.toISOString(),
      mediaUrl: (media) => deps.mediaUrl(tenantId, media),
      // A reply id or typed number maps back to the bot's payload (findCustomerMessage).
      choices: msg.choices ?? undefined,
    });
  }

  /**
   * Genesys → WhatsApp: an agent's reply, in as many sends as it needs (text, attachments; or one
   * template: see replySends, which also refuses what WhatsApp would, before any call to Meta),
   * to the customer's current number (they may have changed it since Genesys' conversation
   * began). Each part is recorded with its wamid as Meta accepts it, so that its statuses find
   * the message, and with the choices it offers (offeredBy); the message's numbered choices become
   * the ones the customer's typed number answers (recordNumberedChoices). A proactive message (origin 'api') is sent from its payload (apiMessageSends),
   * and once sent its agentless copy to Genesys is queued with the record (queueAgentlessCopy).
   */
  async function toWhatsAppMessage(job: Job): Promise<void> {
    const msg = await db.withTenant(job.tenantId, (q) => messages.findAgentReply(q, job.tenantId, job.messageId!));
    if (msg?.status !== 'pending') return record(job);
    const { sends, choices } =
      msg.origin === 'api' ? { sends: await db.withTenant(job.tenantId, (q) => apiMessageSends(q, job.tenantId, msg)), choices: [] } : await replySends(job, msg);
    if (sends.length === 0) throw permanent('EMPTY_MESSAGE', 'The message has nothing WhatsApp can show');
    const credentials = await deps.credentials.meta(job.tenantId);
    if (!credentials) throw transient('META_NOT_CONFIGURED', 'The tenant has no Meta credentials yet');
    const kinds = sends.map((s) => s.type);
    const part = (i: number, wamid: string) => {
      const offered = offeredBy(choices, i + 1, msg.customerKey);
      return { messageId: msg.id, part: i + 1, partCount: sends.length, kind: kinds[i], wamid, status: 'sent' as const, offered };
    };
    const wamids = await sendInParts(
      job,
      'wamids',
      kinds,
      (i) => deps.meta.send(credentials, sends[i]),
      (i, wamid) => db.withTenant(job.tenantId, (q) => messages.recordPart(q, job.tenantId, part(i, wamid))),
    );
    let copyQueued = false;
    await record(job, async (q) => {
      for (const [i, wamid] of wamids.entries()) await messages.recordPart(q, job.tenantId, part(i, wamid));
      await messages.recordSentToWhatsApp(q, job.tenantId, msg.id, wamids);
      await messages.recordNumberedChoices(q, job.tenantId, msg.customerKey, choices);
      if (msg.origin === 'api') copyQueued = await queueAgentlessCopy(q, outbox, job.tenantId, msg);
    });
    if (copyQueued) deps.notifier.touch();
  }

  /**
   * What WhatsApp gets for an agent reply, decided before any call to Meta (a refusal is
   * permanent, with a reason written for the agent: `refused` in errors.ts):
   * - the agent's template command (mapping/templates.ts) → that template, checked against the
   *   tenant's catalogue, whatever the window;
   * - else its free-form parts (text, attachments) while the customer's 24-hour window is open,
   *   or when an earlier attempt already sent some (Meta judges the rest);
   * - after the window (or when the customer never wrote), the tenant's policy: `reject`, or
   *   `template`: the text is the one parameter of the tenant's re-open template. Attachments
   *   are refused under both.
   * The catalogue is read only when a template is involved or the window is closed. The choices
   * are those of the free-form parts (a bot's, genesysOutboundPlan); a template offers none.
   */
  async function replySends(job: Job, reply: messages.AgentReply): Promise<OutboundPlan> {
    const payload = reply.payload as GenesysOutboundMessage;
    const to = reply.recipient!;
    const started = ((job.payload.wamids as unknown[] | undefined) ?? []).length > 0;
    // The plan's hardLimit block-all, a quota used up: no reply goes (one already under way finishes).
    if (reply.quotaBlock && !started) {
      const block = { ...reply.quotaBlock, resetsAt: new Date(reply.quotaBlock.resetsAt) };
      throw refused('QUOTA_EXCEEDED', `${quotaBlockReason(block)}, and its plan stops agent replies until then. An administrator can change the plan or its limits.`);
    }
    const catalogue = () => db.withTenant(job.tenantId, (q) => listTemplates(q, job.tenantId));
    const command = mapOrFail('UNMAPPABLE_MESSAGE', () => agentTemplateCommand(payload));
    if (command && 'error' in command) throw refused('TEMPLATE_COMMAND_INVALID', command.error);
    if (command) {
      const check = checkTemplateRequest(await catalogue(), command);
      if (!check.ok) throw refused(check.problem, check.reason);
      return { sends: [templateSendBody(to, check.template, command.parameters)], choices: [] };
    }
    const plan = mapOrFail('UNMAPPABLE_MESSAGE', () => genesysOutboundPlan(payload, to));
    const sends = plan.sends;
    if (sends.length === 0) throw permanent('EMPTY_MESSAGE', 'The agent message has nothing WhatsApp can show');
    const window = customerWindow(reply.lastInboundAt);
    if (window.windowOpen || started) return plan;

    const texts = sends.flatMap((s) => (s.type === 'text' ? [s.text.body] : []));
    if (texts.length < sends.length) throw refused('WINDOW_CLOSED', windowClosedReason('attachments', reply.lastInboundAt, window, await catalogue()));
    if (reply.windowPolicy !== 'template') throw refused('WINDOW_CLOSED', windowClosedReason('text', reply.lastInboundAt, window, await catalogue()));
    const templates = await catalogue();
    const closed = windowClosedSentence(reply.lastInboundAt, window);
    const reopen = reopenTemplateOf(reply.reopenTemplate);
    const parameter = templateParameterText(texts.join(' '));
    const check = reopen ? checkTemplateRequest(templates, { ...reopen, parameters: [parameter] }) : undefined;
    if (check?.ok) return { sends: [templateSendBody(to, check.template, [parameter])], choices: [] };
    if (check?.problem === 'TEMPLATE_TOO_LONG') throw refused('TEMPLATE_TOO_LONG', `${closed}, so your text goes as this account's re-open template: ${check.reason} Write a shorter message.`);
    const why = check ? check.reason : 'No re-open template is set.';
    throw refused(
      'REOPEN_TEMPLATE_INVALID',
      `${closed}, and this account's re-open template, which would carry your text, is misconfigured: ${why} An administrator sets it (reopenTemplate on PATCH /tenants/:id). Meanwhile, to send an approved template, ${templateHowTo(templates)}`,
    );
  }

  /**
   * A Meta status of an agent message's part → the Genesys receipt it calls for, if any (see
   * mapping/receipts.ts: one message however many parts, nothing after the final receipt). All
   * receipts of one agent message go through one lane (`lanes.receipts(<its Genesys id>)`), one at
   * a time and in Meta's order: a status the webhook could not match to its message yet (it came
   * before the send was recorded) is moved to that lane once it can. A proactive message has no
   * Genesys message until its agentless copy comes back: until then its statuses are recorded
   * (lane `lanes.receipts(<wamid>)`) and nothing is posted to Genesys.
   */
  async function toGenesysReceipt(job: Job): Promise<void> {
    if (!job.eventId) return givenUpReceipt(job);
    const event = await db.withTenant(job.tenantId, (q) => messages.findStatusEvent(q, job.tenantId, job.eventId!));
    if (!event) return record(job);
    const about = event.about;
    if (!about) {
      // The status can arrive before the send's wamid is committed; after a few tries it is
      // a status of a message that did not go through us (e.g. sent from Meta's own tools).
      if (job.attempts < 5) throw transient('MESSAGE_NOT_YET_KNOWN', 'No outbound message with this wamid yet');
      throw permanent('UNKNOWN_MESSAGE', 'No outbound message with this wamid');
    }
    const status = event.payload as MetaStatus;
    const lane = lanes.receipts(about.genesysMessageId ?? event.wamid);
    if (job.lane !== lane) {
      // Meta's time when plausible (as the webhook judged it, webhook-service ingest/time.ts),
      // else now: a time PostgreSQL cannot store must not fail the move on every attempt.
      const ms = Number(status.timestamp) * 1000;
      const ordering = ms > 0 && ms <= Date.now() + 86_400_000 ? new Date(ms) : undefined;
      await record(job, (q) => outbox.enqueue(q, { tenantId: job.tenantId, kind: 'to_genesys_receipt', lane, eventId: job.eventId!, ordering }));
      deps.notifier.touch();
      return;
    }
    const target = { genesysMessageId: about.genesysMessageId ?? '', to: about.to };
    // Without a Genesys message there is nothing to tell Genesys: as if its final receipt were posted.
    const posted = about.genesysMessageId ? about.receiptPosted : 'final';
    const outcome = mapOrFail('UNMAPPABLE_RECEIPT', () => statusReceipt(status, target, about.part, { parts: about.parts, posted }));
    if (outcome.receipt) await deps.genesys.send(job.tenantId, 'receipt', outcome.receipt);
    await record(job, async (q) => {
      if (outcome.partStatus) {
        await messages.recordPartStatus(q, job.tenantId, {
          messageId: about.messageId,
          part: about.part.part,
          status: outcome.partStatus,
          errorCode: outcome.failure?.code,
          errorMessage: outcome.failure?.message,
        });
      }
      if (outcome.receipt) await messages.recordReceiptPosted(q, job.tenantId, about.messageId, outcome.receipt.isFinalReceipt ? 'final' : 'delivered');
    });
  }

  /**
   * The Failed receipt of a send given up (see giveUp), built when it was queued; not after a
   * final one, nor once the message was retried (dead letters, shared/src/dead-letters.ts).
   */
  async function givenUpReceipt(job: Job): Promise<void> {
    const receipt = job.payload.receipt as GenesysReceipt | undefined;
    const messageId = job.payload.messageId as string | undefined;
    const superseded = messageId ? !(await db.withTenant(job.tenantId, (q) => messages.failedReceiptDue(q, job.tenantId, messageId))) : false;
    if (receipt && !superseded) await deps.genesys.send(job.tenantId, 'receipt', receipt);
    return record(job, messageId && !superseded ? (q) => messages.recordFailedReceiptPosted(q, job.tenantId, messageId) : undefined);
  }

  /**
   * A job that will not be retried: its message is marked with the reason, and an agent reply
   * that could not reach WhatsApp is reported to Genesys with a Failed receipt, so the agent sees it.
   */
  async function giveUp(job: Job, err: DeliveryError, state: 'failed' | 'dead'): Promise<void> {
    const label = partLabel(err.part);
    const receiptQueued = await db.withTenant(job.tenantId, async (q) => {
      await outbox.finish(q, job, state, `${err.code}: ${err.message}`);
      if (job.kind === 'to_genesys_agentless') {
        await agentlessCopies.giveUp(q, job, err);
        return false;
      }
      if (!job.messageId) return false;
      const reason = { code: err.metaCode ? String(err.metaCode) : err.code, message: label ? `${label}: ${err.message}` : err.message };
      const msg = await messages.recordGivenUp(q, job.tenantId, job.messageId, state, reason);
      // A proactive message has no Genesys message to fail: its reason shows on GET /messages/:id.
      if (msg?.direction !== 'outbound' || !msg.genesysMessageId) return false;
      const receipt = agentFailedReceipt({ genesysMessageId: msg.genesysMessageId, to: msg.waId }, err);
      const payload = { receipt, messageId: job.messageId };
      await outbox.enqueue(q, { tenantId: job.tenantId, kind: 'to_genesys_receipt', lane: lanes.receipts(msg.genesysMessageId), payload });
      return true;
    });
    if (receiptQueued) deps.notifier.touch();
  }

  const handlers: Record<Job['kind'], (job: Job) => Promise<void>> = {
    to_genesys_message: toGenesysMessage,
    to_whatsapp_message: toWhatsAppMessage,
    to_genesys_receipt: toGenesysReceipt,
    to_genesys_agentless: agentlessCopies.deliver,
    to_whatsapp_signal: deps.signals ?? ((job: Job) => record(job)),
    to_tenant_notification: deps.notifications ?? ((job: Job) => record(job)),
  };
  return { deliver: (job: Job) => handlers[job.kind](job), giveUp };
}

export type Deliveries = ReturnType<typeof createDeliveries>;

/**
 * What part `part` (1-based) of a message offers the customer `to` (their mapping's key): every choice of the message
 * (their WhatsApp ids are unique in it, and numbers run across it), so that an answer to any of its
 * parts maps back; undefined for a part that offers none (a media send, a link button, a lead text).
 */
function offeredBy(choices: OutboundPlan['choices'], part: number, to: string): messages.OfferedChoices | undefined {
  return choices.some((c) => c.part === part) ? { to, choices } : undefined;
}

/**
 * Runs a mapping. Mapping is pure over what is stored, so what it cannot map now it never will:
 * whatever it throws (UnmappableMessage, or a payload shape it did not foresee) ends the
 * delivery at once as a permanent failure `code` with the reason, instead of a retry for the
 * whole budget while the rest of its lane waits behind it.
 */
function mapOrFail<T>(code: string, map: () => T): T {
  try {
    return map();
  } catch (err) {
    throw permanent(code, err instanceof UnmappableMessage ? err.message : `Cannot be mapped: ${(err as Error).message}`);
  }
}
