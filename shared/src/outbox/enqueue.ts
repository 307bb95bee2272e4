import type { Queryable } from '../db';
import { JOB_KINDS, type JobKind } from './kinds';

/**
 * The columns of a new job, each a SQL expression (a parameter like `$1`, a column of the
 * statement's source, or an expression over them). Left out: the table's default (`ordering`:
 * now(); no message, event or payload).
 */
export interface EnqueueColumns {
  tenantId: string;
  kind: JobKind;
  /** Build it with `laneSql` (or pass a parameter holding a name built with `lanes`). */
  lane: string;
  /** timestamptz: the sender's time; a lane is delivered in this order, then by id. */
  ordering?: string;
  messageId?: string;
  eventId?: string;
  /** jsonb: the job's own data (e.g. a receipt to send, or progress of a multi-part send). */
  payload?: string;
}

/**
 * The one way into the queue, as SQL: `INSERT INTO outbox ... SELECT <columns> [FROM <from>]
 * [ORDER BY <orderBy>]`. Compose it into a statement (typically as the last part of a CTE that
 * inserted the messages, with `from` naming that CTE), so that storing and queuing are one
 * statement and one round trip; the caller's transaction decides whether both happen. `orderBy`
 * fixes the ids' order, which breaks ties of `ordering` within a lane.
 *
 * Wake the workers after commit (OutboxNotifier); a job left unannounced waits for their poll.
 */
export function enqueueSql(columns: EnqueueColumns, source: { from?: string; orderBy?: string } = {}): string {
  if (!JOB_KINDS.includes(columns.kind)) throw new Error(`Unknown outbox job kind: ${columns.kind}`);
  const names = ['tenant_id', 'kind', 'lane'];
  const values = [columns.tenantId, `'${columns.kind}'`, columns.lane];
  const optional: Array<[string, string | undefined]> = [
    ['ordering', columns.ordering],
    ['message_id', columns.messageId],
    ['event_id', columns.eventId],
    ['payload', columns.payload],
  ];
  for (const [name, value] of optional) {
    if (value === undefined) continue;
    names.push(name);
    values.push(value);
  }
  return (
    `INSERT INTO outbox (${names.join(', ')})\n       SELECT ${values.join(', ')}` +
    (source.from ? ` FROM ${source.from}` : '') +
    (source.orderBy ? ` ORDER BY ${source.orderBy}` : '')
  );
}

/** One job, with values rather than SQL. */
export interface NewJob {
  tenantId: string;
  kind: JobKind;
  /** Built with `lanes`. */
  lane: string;
  ordering?: Date | string;
  messageId?: string;
  eventId?: string;
  payload?: Record<string, unknown>;
}

/**
 * Queues one job inside the caller's transaction (`q` from `db.withTenant`):
 * it exists if, and when, that transaction commits. Built on `enqueueSql`. Returns the job's id
 * (bigint, as a string).
 */
export async function enqueue(q: Queryable, job: NewJob): Promise<string> {
  const params: unknown[] = [job.tenantId, job.lane];
  const param = (value: unknown, type: string) => {
    params.push(value);
    return `$${params.length}::${type}`;
  };
  const sql = enqueueSql({
    tenantId: '$1::text',
    kind: job.kind,
    lane: '$2::text',
    ordering: job.ordering === undefined ? undefined : param(job.ordering, 'timestamptz'),
    messageId: job.messageId === undefined ? undefined : param(job.messageId, 'bigint'),
    eventId: job.eventId === undefined ? undefined : param(job.eventId, 'bigint'),
    payload: job.payload === undefined ? undefined : param(JSON.stringify(job.payload), 'jsonb'),
  });
  const { rows } = await q.query<{ id: string }>(`${sql} RETURNING id::text`, params);
  return rows[0].id;
}
