import type { Database } from '../db';
import type { JobKind } from './kinds';

export interface QueueCount {
  tenantId: string;
  kind: JobKind;
  state: 'pending' | 'failed' | 'dead';
  count: number;
}

/** What is waiting, failed or dead, per tenant, kind and state (sorted by those): for operators. */
export async function queueView(db: Database): Promise<QueueCount[]> {
  return db.unscoped<QueueCount>(`SELECT tenant_id AS "tenantId", kind, state, count FROM outbox_queue_view()`);
}
