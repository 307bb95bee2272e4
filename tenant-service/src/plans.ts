import { appError, appendAudit, type Database, type HardLimit, type Plan, type Queryable } from '@bridge/shared';
import type { CreatePlanInput, UpdatePlanInput } from './schemas';

/**
 * Plans (issue #13; table plans, migration 1732060800131): the admin API lists, creates and
 * changes them, each change audited in the platform's chain (plan.created, plan.updated). A
 * change of a plan's apiRequestsPerMinute moves the rate limit of its tenants without an override
 * of their own (plan_apply_rate_limit), and the caller announces them to the tenant directory.
 */

interface PlanRow {
  name: string;
  description: string | null;
  messages_per_day: string | null;
  messages_per_month: string | null;
  conversations_per_month: string | null;
  api_requests_per_minute: number;
  hard_limit: HardLimit;
  created_at: Date;
  updated_at: Date;
}

/** A tenant whose rate limit followed its plan's: what the tenant directory caches of it. */
export interface RateLimitChange {
  tenant_id: string;
  status: 'active' | 'suspended';
  rate_limit: number;
  subdomain: string | null;
  suspended_reason: string | null;
}

const COLUMNS = 'name, description, messages_per_day, messages_per_month, conversations_per_month, api_requests_per_minute, hard_limit, created_at, updated_at';
const num = (v: string | null) => (v === null ? null : Number(v));

export const toPlan = (r: PlanRow): Plan => ({
  name: r.name,
  description: r.description,
  messagesPerDay: num(r.messages_per_day),
  messagesPerMonth: num(r.messages_per_month),
  conversationsPerMonth: num(r.conversations_per_month),
  apiRequestsPerMinute: r.api_requests_per_minute,
  hardLimit: r.hard_limit,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** The plan of this name; undefined: none. */
export async function findPlan(q: Queryable, name: string, options: { forUpdate?: boolean } = {}): Promise<Plan | undefined> {
  const { rows } = await q.query<PlanRow>(`SELECT ${COLUMNS} FROM plans WHERE name = $1${options.forUpdate ? ' FOR UPDATE' : ''}`, [name]);
  return rows[0] && toPlan(rows[0]);
}

/** Every plan's name, for the message naming them. */
export async function planNames(q: Queryable): Promise<string[]> {
  const { rows } = await q.query<{ name: string }>('SELECT name FROM plans ORDER BY name');
  return rows.map((r) => r.name);
}

export function createPlanUseCases(deps: { db: Database; rateLimitsChanged(changes: RateLimitChange[]): Promise<void> }) {
  const { db } = deps;
  return {
    async listPlans(): Promise<Plan[]> {
      return db.withoutTenant(async (q) => (await q.query<PlanRow>(`SELECT ${COLUMNS} FROM plans ORDER BY name`)).rows.map(toPlan));
    },

    /** 404 PLAN_NOT_FOUND. */
    async getPlan(name: string): Promise<Plan> {
      const plan = await db.withoutTenant((q) => findPlan(q, name));
      if (!plan) throw appError('PLAN_NOT_FOUND');
      return plan;
    },

    /** 409 PLAN_EXISTS. Limits left out are unlimited; hardLimit defaults to block-api. */
    async createPlan(input: CreatePlanInput): Promise<Plan> {
      return db
        .withoutTenant(async (q) => {
          const { rows } = await q.query<PlanRow>(
            `INSERT INTO plans (name, description, messages_per_day, messages_per_month, conversations_per_month, api_requests_per_minute, hard_limit)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
            [input.name, input.description ?? null, input.messagesPerDay ?? null, input.messagesPerMonth ?? null, input.conversationsPerMonth ?? null, input.apiRequestsPerMinute, input.hardLimit],
          );
          const plan = toPlan(rows[0]);
          await appendAudit(q, { tenantId: null, action: 'plan.created', target: `plan:${plan.name}`, after: plan });
          return plan;
        })
        .catch((err: { code?: string; constraint?: string }) => {
          if (err?.code === '23505' && err.constraint === 'plans_pkey') throw appError('PLAN_EXISTS');
          throw err;
        });
    },

    /**
     * Changes the fields given (a limit set to null: unlimited), audited; the plan's tenants
     * follow from their next message (limits) or at once (the rate limit, announced). 404 PLAN_NOT_FOUND.
     */
    async updatePlan(name: string, patch: UpdatePlanInput): Promise<Plan> {
      const result = await db.withoutTenant(async (q) => {
        const before = await findPlan(q, name, { forUpdate: true });
        if (!before) return undefined;
        const given = (k: keyof UpdatePlanInput) => patch[k] !== undefined;
        const { rows } = await q.query<PlanRow>(
          `UPDATE plans SET
              description = CASE WHEN $2 THEN $3 ELSE description END,
              messages_per_day = CASE WHEN $4 THEN $5::bigint ELSE messages_per_day END,
              messages_per_month = CASE WHEN $6 THEN $7::bigint ELSE messages_per_month END,
              conversations_per_month = CASE WHEN $8 THEN $9::bigint ELSE conversations_per_month END,
              api_requests_per_minute = COALESCE($10, api_requests_per_minute),
              hard_limit = COALESCE($11, hard_limit),
              updated_at = now()
            WHERE name = $1 RETURNING ${COLUMNS}`,
          [
            name,
            given('description'),
            patch.description ?? null,
            given('messagesPerDay'),
            patch.messagesPerDay ?? null,
            given('messagesPerMonth'),
            patch.messagesPerMonth ?? null,
            given('conversationsPerMonth'),
            patch.conversationsPerMonth ?? null,
            patch.apiRequestsPerMinute ?? null,
            patch.hardLimit ?? null,
          ],
        );
        const after = toPlan(rows[0]);
        await appendAudit(q, { tenantId: null, action: 'plan.updated', target: `plan:${name}`, before, after });
        // Across tenants, in this transaction: the plan's tenants without an override of their own.
        const moved = (await q.query<RateLimitChange>('SELECT * FROM plan_apply_rate_limit($1)', [name])).rows;
        return { after, moved };
      });
      if (!result) throw appError('PLAN_NOT_FOUND');
      if (result.moved.length) await deps.rateLimitsChanged(result.moved);
      return result.after;
    },
  };
}

export type PlanUseCases = ReturnType<typeof createPlanUseCases>;
