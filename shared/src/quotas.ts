import { z } from 'zod';
import type { Queryable } from './db';
import { appError, type AppError } from './errors';

/**
 * Plans and quotas (issue #13; tables plans, tenant_usage_daily, tenant_usage_monthly and the
 * functions tenant_quota_limits / tenant_quota_use / count_usage of migration 1732060800131).
 *
 * Usage is counted by the database in the statement that stores a message (message_tracking) or
 * creates a conversation (conversation_mappings), per UTC day and UTC calendar month; the 80% and
 * 100% notifications of each limit are raised there too (shared/src/notifications.ts). Here: what
 * the usage routes show, and what is refused once a limit is used up.
 */

/** The quotas a plan limits, each per its period (UTC). */
export const QUOTAS = ['messagesPerDay', 'messagesPerMonth', 'conversationsPerMonth'] as const;
export type Quota = (typeof QUOTAS)[number];

/** What is blocked once a limit is used up: nothing (warnings only), proactive messages and tenant API calls, or those and agent replies. */
export const HARD_LIMITS = ['none', 'block-api', 'block-all'] as const;
export type HardLimit = (typeof HARD_LIMITS)[number];

/** A plan as the admin API shows it; a limit of null is unlimited. */
export interface Plan {
  name: string;
  description: string | null;
  messagesPerDay: number | null;
  messagesPerMonth: number | null;
  conversationsPerMonth: number | null;
  apiRequestsPerMinute: number;
  hardLimit: HardLimit;
  createdAt: string;
  updatedAt: string;
}

export const PLAN_NAME_PATTERN = /^[a-z0-9_-]{1,32}$/;

const limit = z.number().int().min(1).max(1_000_000_000_000).nullable();

/** The limits a plan sets, and a tenant's overrides may replace (each: a positive integer, or null: unlimited). */
export const quotaLimitsShape = {
  messagesPerDay: limit.describe('messages (inbound, agent replies, proactive) per UTC day; null: unlimited'),
  messagesPerMonth: limit.describe('messages per UTC calendar month; null: unlimited'),
  conversationsPerMonth: limit.describe('new conversations (customers first seen) per UTC calendar month; null: unlimited'),
  apiRequestsPerMinute: z.number().int().min(1).max(1_000_000).describe('the gateway’s rate limit for the tenant'),
  hardLimit: z.enum(HARD_LIMITS, { message: `must be one of ${HARD_LIMITS.join(', ')}` }),
};

/** A tenant's overrides of its plan (PATCH /tenants/:id `quotaOverrides`): any of the plan's limits; `{}` clears them all. */
export const quotaOverridesSchema = z.object(quotaLimitsShape).partial().strict();
export type QuotaOverrides = z.infer<typeof quotaOverridesSchema>;

/** The tenant's effective limits (its overrides, else its plan's). */
export interface QuotaLimits {
  plan: string;
  hardLimit: HardLimit;
  messagesPerDay: number | null;
  messagesPerMonth: number | null;
  conversationsPerMonth: number | null;
  apiRequestsPerMinute: number;
}

const num = (v: string | number | null) => (v === null ? null : Number(v));

/** The tenant's effective limits; undefined: no such tenant. */
export async function quotaLimits(q: Queryable, tenantId: string): Promise<QuotaLimits | undefined> {
  const { rows } = await q.query<{
    plan: string;
    hard_limit: HardLimit;
    messages_per_day: string | null;
    messages_per_month: string | null;
    conversations_per_month: string | null;
    api_requests_per_minute: number;
  }>('SELECT * FROM tenant_quota_limits($1)', [tenantId]);
  const r = rows[0];
  return (
    r && {
      plan: r.plan,
      hardLimit: r.hard_limit,
      messagesPerDay: num(r.messages_per_day),
      messagesPerMonth: num(r.messages_per_month),
      conversationsPerMonth: num(r.conversations_per_month),
      apiRequestsPerMinute: r.api_requests_per_minute,
    }
  );
}

/** A limited quota that blocks an action: which, its use and limit, and when its period ends. */
export interface QuotaBlock {
  quota: Quota;
  used: number;
  limit: number;
  resetsAt: Date;
}

/** The tenant's API quota state (apiQuotaState). */
export interface ApiQuotaState {
  /** Whether any of the tenant's quotas is limited (false: its plan and overrides limit nothing). */
  limited: boolean;
  /** The used-up quota that refuses API calls now, if any. */
  block?: QuotaBlock;
}

/**
 * What the tenant's quotas say of a tenant API call (a proactive message, any tenant API call)
 * now: refused under `block-api` and `block-all` once a quota's use has reached its limit (the call
 * would go over); of several, the one whose period ends last (a client waits for all). And whether
 * the tenant has any limit at all (the quota guard remembers tenants without). One statement; a
 * tenant without limits costs one lookup. (An agent's reply is stopped only under `block-all`,
 * once the use is over the limit: findAgentReply in genesys-connector checks that in its own query.)
 */
export async function apiQuotaState(q: Queryable, tenantId: string): Promise<ApiQuotaState> {
  const { rows } = await q.query<{ quota: Quota; used: string; lim: string; resets_at: Date; blocks: boolean }>(
    `SELECT quota, used, lim, resets_at, hard_limit IN ('block-api', 'block-all') AND used >= lim AS blocks
       FROM tenant_quota_use($1) ORDER BY resets_at DESC`,
    [tenantId],
  );
  const r = rows.find((row) => row.blocks);
  return { limited: rows.length > 0, block: r && { quota: r.quota, used: Number(r.used), limit: Number(r.lim), resetsAt: r.resets_at } };
}

const QUOTA_WORDS: Record<Quota, string> = {
  messagesPerDay: 'messages per day',
  messagesPerMonth: 'messages per month',
  conversationsPerMonth: 'new conversations per month',
};

/** Seconds from `now` to the block's period end, at least 1 (the `Retry-After` of a 429 QUOTA_EXCEEDED). */
export function retryAfterSeconds(block: QuotaBlock, now = Date.now()): number {
  return Math.max(1, Math.ceil((block.resetsAt.getTime() - now) / 1000));
}

/** What an agent or API client reads: the quota, its use and limit, and when it resets. */
export function quotaBlockReason(block: QuotaBlock): string {
  return `This account's plan limit of ${block.limit} ${QUOTA_WORDS[block.quota]} is used up (${block.used} used); it resets at ${block.resetsAt.toISOString()}`;
}

/** 429 QUOTA_EXCEEDED with `Retry-After`: seconds until the quota's period ends. */
export function quotaExceeded(block: QuotaBlock, now = Date.now()): AppError {
  return appError('QUOTA_EXCEEDED', `${quotaBlockReason(block)}. Customers' messages are still delivered.`, { 'Retry-After': String(retryAfterSeconds(block, now)) });
}

/** Counts of one period (a day or the month). `messages` = inbound + outbound; outbound includes proactive. */
export interface UsageCounts {
  inbound: number;
  outbound: number;
  proactive: number;
  messages: number;
  conversations: number;
}

/** One quota in the current period. limit null: unlimited (percent, remaining null). */
export interface QuotaUse {
  quota: Quota;
  period: 'day' | 'month';
  used: number;
  limit: number | null;
  /** used / limit × 100, rounded to 0.1. */
  percent: number | null;
  remaining: number | null;
  /** Use beyond the limit (customers' messages are never refused: they are counted as overage). */
  overage: number;
  exceeded: boolean;
  /** When the period ends (ISO 8601). */
  resetsAt: string;
}

/**
 * The query of `GET /state/usage` and `GET /tenants/:id/usage`: none (the report is always this
 * period's); any parameter is refused with 400 VALIDATION_ERROR rather than silently ignored.
 */
export const usageQuerySchema = z.object({}).strict();

/** `GET /state/usage` and `GET /tenants/:id/usage`. */
export interface UsageReport {
  tenantId: string;
  plan: { name: string; hardLimit: HardLimit; apiRequestsPerMinute: number };
  period: { month: string; start: string; end: string; today: string };
  month: UsageCounts;
  today: UsageCounts;
  quotas: QuotaUse[];
  daily: Array<UsageCounts & { date: string }>;
}

interface CountRow {
  inbound: string;
  outbound: string;
  proactive: string;
  conversations: string;
}

const counts = (r: CountRow | undefined): UsageCounts => {
  const inbound = Number(r?.inbound ?? 0);
  const outbound = Number(r?.outbound ?? 0);
  return { inbound, outbound, proactive: Number(r?.proactive ?? 0), messages: inbound + outbound, conversations: Number(r?.conversations ?? 0) };
};

const SUMS = 'COALESCE(sum(inbound), 0) AS inbound, COALESCE(sum(outbound), 0) AS outbound, COALESCE(sum(proactive), 0) AS proactive, COALESCE(sum(conversations), 0) AS conversations';

/**
 * This period's usage of the tenant (`now`'s UTC month and day) against each limit, with a daily
 * breakdown of the month (days with any use). Undefined: no such tenant. Three statements, in
 * the caller's unit of work.
 */
export async function usageReport(q: Queryable, tenantId: string, now = new Date()): Promise<UsageReport | undefined> {
  const limits = await quotaLimits(q, tenantId);
  if (!limits) return undefined;
  const today = now.toISOString().slice(0, 10);
  const monthStart = `${today.slice(0, 7)}-01`;
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const tomorrow = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  const month = await q.query<CountRow>(`SELECT ${SUMS} FROM tenant_usage_monthly WHERE tenant_id = $1 AND month = $2::date`, [tenantId, monthStart]);
  const days = await q.query<CountRow & { day: string }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, ${SUMS} FROM tenant_usage_daily WHERE tenant_id = $1 AND day >= $2::date AND day < $3::date GROUP BY day ORDER BY day`,
    [tenantId, monthStart, end.toISOString().slice(0, 10)],
  );
  const daily = days.rows.map((r) => ({ date: r.day, ...counts(r) }));
  const m = counts(month.rows[0]);
  const t = daily.find((d) => d.date === today) ?? counts(undefined);
  const use = (quota: Quota, period: 'day' | 'month', used: number, lim: number | null, resetsAt: Date): QuotaUse => ({
    quota,
    period,
    used,
    limit: lim,
    percent: lim === null ? null : Math.round((used * 1000) / lim) / 10,
    remaining: lim === null ? null : Math.max(0, lim - used),
    overage: lim === null ? 0 : Math.max(0, used - lim),
    exceeded: lim !== null && used >= lim,
    resetsAt: resetsAt.toISOString(),
  });
  return {
    tenantId,
    plan: { name: limits.plan, hardLimit: limits.hardLimit, apiRequestsPerMinute: limits.apiRequestsPerMinute },
    period: { month: monthStart.slice(0, 7), start: `${monthStart}T00:00:00.000Z`, end: end.toISOString(), today },
    month: m,
    today: { inbound: t.inbound, outbound: t.outbound, proactive: t.proactive, messages: t.messages, conversations: t.conversations },
    quotas: [
      use('messagesPerDay', 'day', t.messages, limits.messagesPerDay, tomorrow),
      use('messagesPerMonth', 'month', m.messages, limits.messagesPerMonth, end),
      use('conversationsPerMonth', 'month', m.conversations, limits.conversationsPerMonth, end),
    ],
    daily,
  };
}
