import {
  agentlessText,
  agentlessTextHash,
  checkTemplateRequest,
  lanes,
  listTemplates,
  templateSendBody,
  type Database,
  type Job,
  type Outbox,
  type Queryable,
  type TemplateRequest,
} from '@bridge/shared';
import { DeliveryError, permanent } from './errors';
import type { GenesysClient } from './genesys-client';
import type { MetaSendBody } from './mapping';
import type { TrackedMessage } from './messages';

/**
 * Proactive messages (origin 'api', queued by state-manager's `POST /messages`): what is sent to
 * WhatsApp for one, and its agentless copy in the tenant's Genesys conversation, posted once it
 * reached WhatsApp (job `to_genesys_agentless`) and recognised when Genesys delivers it back to
 * our outbound webhook (webhook-service/src/store.ts), so it is never sent twice. All SQL of
 * agentless_echoes the connector runs is here.
 */

/** A proactive message's payload, as state-manager/src/proactive.ts stores it. */
interface ApiPayload {
  to: string;
  template?: TemplateRequest;
  text?: string;
  /** The text the customer is shown. */
  rendered?: string;
}

/** What GET /messages/:id shows of a copy that was not posted (state-manager/src/proactive.ts reads it). */
type CopyNote = { status: 'skipped' | 'failed'; reason: string };

/**
 * The WhatsApp send of a proactive message, to the customer's current number (`recipient`): its
 * template, checked against the tenant's catalogue again (it may have been paused or removed
 * since it was queued), or its text. A template refused → permanent DeliveryError with the
 * problem code (TEMPLATE_*) and the catalogue's reason, which GET /messages/:id shows.
 */
export async function apiMessageSends(q: Queryable, tenantId: string, msg: TrackedMessage): Promise<MetaSendBody[]> {
  const payload = msg.payload as unknown as ApiPayload;
  const to = msg.recipient ?? payload.to;
  if (payload.template) {
    const check = checkTemplateRequest(await listTemplates(q, tenantId), payload.template);
    if (!check.ok) throw permanent(check.problem, check.reason);
    return [templateSendBody(to, check.template, payload.template.parameters)];
  }
  const body = payload.text ?? '';
  if (!body.trim()) throw permanent('EMPTY_MESSAGE', 'The message has no text');
  return [{ messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { body, preview_url: /https?:\/\//i.test(body) } }];
}

/**
 * A proactive message was recorded sent: in the same transaction, its agentless copy is awaited
 * (an agentless_echoes row: the customer as Genesys knows them, and the hash of the text to post)
 * and its post queued, in a lane of its own. Once per message. Returns whether it was queued.
 */
export async function queueAgentlessCopy(q: Queryable, outbox: Pick<Outbox, 'enqueue'>, tenantId: string, msg: TrackedMessage): Promise<boolean> {
  const payload = msg.payload as unknown as ApiPayload;
  const textBody = agentlessText(payload.rendered ?? payload.text ?? '');
  const toAddress = msg.genesysId ?? msg.waId;
  if (!textBody.trim() || !toAddress) return false;
  const { rowCount } = await q.query(
    `INSERT INTO agentless_echoes (tenant_id, message_id, wa_id, text_hash) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [tenantId, msg.id, toAddress, agentlessTextHash(textBody)],
  );
  if (!rowCount) return false;
  await outbox.enqueue(q, { tenantId, kind: 'to_genesys_agentless', lane: lanes.agentless(msg.id), messageId: msg.id });
  return true;
}

/** Notes on the message why its copy was not posted (payload.agentless). */
async function noteCopy(q: Queryable, tenantId: string, messageId: string, note: CopyNote): Promise<void> {
  await q.query(`UPDATE message_tracking SET payload = payload || jsonb_build_object('agentless', $3::jsonb), updated_at = now() WHERE tenant_id = $1 AND id = $2`, [
    tenantId,
    messageId,
    JSON.stringify(note),
  ]);
}

export interface AgentlessDeps {
  db: Database;
  outbox: Pick<Outbox, 'complete' | 'finish'>;
  genesys: Pick<GenesysClient, 'agentless'>;
}

/**
 * The `to_genesys_agentless` job: posts a proactive message's copy to Genesys (agentless
 * messages API) and records the Genesys id it got, on the awaited echo and — while it has none —
 * on the message, so that statuses of the message may then reach Genesys as receipts of that copy.
 *
 * `posts` is counted (and committed) before each call, so that a copy Genesys delivers to our
 * webhook before its answer is recorded is still recognised (by recipient and text hash while
 * `echoes < posts`); a call Genesys answered with an error (it took nothing) is uncounted again.
 * A tenant without Genesys credentials: skipped, noted on the message, not retried.
 */
export function createAgentlessCopies(deps: AgentlessDeps) {
  const { db, outbox } = deps;

  async function deliver(job: Job): Promise<void> {
    const tenantId = job.tenantId;
    const messageId = job.messageId!;
    const copy = await db.withTenant(tenantId, async (q) => {
      const { rows } = await q.query<{ toAddress: string; rendered: string | null; text: string | null }>(
        `SELECT e.wa_id AS "toAddress", m.payload->>'rendered' AS rendered, m.payload->>'text' AS text
           FROM agentless_echoes e JOIN message_tracking m ON m.tenant_id = e.tenant_id AND m.id = e.message_id
          WHERE e.tenant_id = $1 AND e.message_id = $2`,
        [tenantId, messageId],
      );
      return rows[0];
    });
    const complete = (outcome?: (q: Queryable) => Promise<unknown>) =>
      db.withTenant(tenantId, async (q) => {
        await outbox.complete(q, job);
        if (outcome) await outcome(q);
      });
    if (!copy) return complete();

    const counted = (delta: 1 | -1) =>
      db.withTenant(tenantId, (q) =>
        q.query(
          `UPDATE agentless_echoes SET posts = GREATEST(posts + $3, 0), posted_at = CASE WHEN $3 > 0 THEN now() ELSE posted_at END
            WHERE tenant_id = $1 AND message_id = $2`,
          [tenantId, messageId, delta],
        ),
      );
    let answer;
    try {
      answer = await deps.genesys.agentless(tenantId, { toAddress: copy.toAddress, textBody: agentlessText(copy.rendered ?? copy.text ?? '') }, { beforePost: () => counted(1) });
    } catch (err) {
      // Genesys answered with an error: it took nothing, so no copy will come back for this call.
      if (err instanceof DeliveryError && !err.uncertain) await counted(-1);
      throw err;
    }
    if (!answer) {
      return complete((q) => noteCopy(q, tenantId, messageId, { status: 'skipped', reason: 'The tenant has no Genesys credentials: no copy was posted to Genesys' }));
    }
    const genesysId = typeof answer.id === 'string' && answer.id ? answer.id : undefined;
    return complete(async (q) => {
      if (!genesysId) return;
      await q.query(
        `UPDATE agentless_echoes SET genesys_message_ids = CASE WHEN $3 = ANY (genesys_message_ids) THEN genesys_message_ids ELSE genesys_message_ids || $3 END
          WHERE tenant_id = $1 AND message_id = $2`,
        [tenantId, messageId, genesysId],
      );
      await claimGenesysId(q, tenantId, messageId, genesysId, answer.conversationId);
    });
  }

  /** The copy will not be posted (refused for good, or out of retries): the reason is noted on the message. */
  async function giveUp(q: Queryable, job: Job, err: DeliveryError): Promise<void> {
    if (job.messageId) await noteCopy(q, job.tenantId, job.messageId, { status: 'failed', reason: `${err.code}: ${err.message}` });
  }

  return { deliver, giveUp };
}

/**
 * Gives the proactive message `messageId` the Genesys id of its copy, while it has none and no
 * other message has that id (message_tracking's unique index): from then on a redelivery of the
 * copy collides with it, and its statuses may go to Genesys as receipts.
 */
async function claimGenesysId(q: Queryable, tenantId: string, messageId: string, genesysId: string, conversationId?: string): Promise<void> {
  await q.query(
    `UPDATE message_tracking SET genesys_message_id = $3, genesys_conversation_id = COALESCE(genesys_conversation_id, $4), updated_at = now()
      WHERE tenant_id = $1 AND id = $2 AND genesys_message_id IS NULL
        AND NOT EXISTS (SELECT 1 FROM message_tracking o WHERE o.tenant_id = $1 AND o.genesys_message_id = $3)`,
    [tenantId, messageId, genesysId, conversationId ?? null],
  );
}
