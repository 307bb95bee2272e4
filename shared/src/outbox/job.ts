import type { JobKind } from './kinds';

/** A claimed job, as the worker holds it. */
export interface Job {
  tenantId: string;
  /** bigint, as a string. */
  id: string;
  kind: JobKind;
  lane: string;
  messageId: string | null;
  eventId: string | null;
  payload: Record<string, unknown>;
  /** Attempts so far, this one included. */
  attempts: number;
  createdAt: Date;
  /** The previous attempt's outcome is unknown (its lease ran out with nothing recorded). */
  uncertain: boolean;
}

/** The row shape the claim returns. */
export interface JobRow {
  tenant_id: string;
  id: string;
  kind: JobKind;
  lane: string;
  message_id: string | null;
  event_id: string | null;
  payload: Record<string, unknown>;
  attempts: number;
  created_at: Date;
  uncertain: boolean;
}

export const toJob = (r: JobRow): Job => ({
  tenantId: r.tenant_id,
  id: r.id,
  kind: r.kind,
  lane: r.lane,
  messageId: r.message_id,
  eventId: r.event_id,
  payload: r.payload,
  attempts: r.attempts,
  createdAt: r.created_at,
  uncertain: r.uncertain,
});
