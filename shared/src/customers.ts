import { statement, type Queryable } from './db';

/**
 * Customers (conversation_mappings) across services: a customer is found by either of their ids,
 * phone number or business-scoped user id (BSUID), and whoever may create or re-key a customer's
 * mapping first takes their ids' locks (lockCustomers), so that two writers about one new
 * customer — one knowing their number, one only their BSUID — cannot make them two mappings.
 */

const LOCK_CUSTOMERS = statement(
  'lock-customers',
  `SELECT count(pg_advisory_xact_lock(k))::int AS locked
     FROM (SELECT DISTINCT hashtextextended('customer:' || $1 || ':' || id, 0) AS k FROM unnest($2::text[]) AS id ORDER BY 1) AS ids`,
);

/**
 * Takes the transaction-scoped advisory lock of each of the tenant's customer ids in `ids`, in one
 * order (so that writers locking several never deadlock each other); they are released at commit
 * or rollback. One statement; none for no ids. Must come before the transaction reads the
 * mappings it decides on: a statement sees what was committed before it began.
 */
export async function lockCustomers(q: Queryable, tenantId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await q.query({ ...LOCK_CUSTOMERS, values: [tenantId, [...new Set(ids)]] });
}
