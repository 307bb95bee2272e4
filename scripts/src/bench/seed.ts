/**
 * Bench tenants, seeded straight into PostgreSQL as the owner with one multi-row statement per
 * table (unnest), credentials encrypted with the deployment's key so tenant-service can decrypt
 * them for the other services. Every secret is random per run and stays in this process.
 */
import { Client } from 'pg';
import { CredentialCipher, apiKeyPrefix, generateApiKey, hashApiKey } from '@bridge/shared';
import { newBridgeTenant, type BridgeTenant } from '../bridge-tenant';

/** A bridge tenant (its Meta number and app, its Genesys org) as the bench seeds it. */
export interface BenchTenant extends Omit<BridgeTenant, 'tenantId'> {
  index: number;
  /** `bench-00001` … */
  id: string;
  /** Plain API keys (only their SHA-256 is stored). */
  keys: string[];
  displayPhoneNumber: string;
}

/** Requests per minute: high enough that the gateway's limiter never answers 429 in a bench. */
export const BENCH_RATE_LIMIT = 1_000_000;

export const tenantId = (i: number) => `bench-${String(i).padStart(5, '0')}`;

/** Tenant number `index` (from 1) with fresh random credentials, its numbers derived from the index. */
export function makeTenant(index: number): BenchTenant {
  const { tenantId: id, ...tenant } = newBridgeTenant(tenantId(index), `1${String(index).padStart(10, '0')}`, { wabaId: `2${String(index).padStart(10, '0')}` });
  return {
    ...tenant,
    index,
    id,
    keys: [],
    displayPhoneNumber: `1555${String(index).padStart(7, '0')}`,
  };
}

async function withOwner<T>(ownerUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: ownerUrl, application_name: 'bench-seed' });
  await client.connect();
  try {
    // The owner must be a superuser (row-level security does not apply to it): the tables force
    // RLS on their owner too, and no setting lets a session write every tenant's rows.
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Inserts tenants with both kinds of credentials; each tenant gets its first `keysPerTenant` keys. */
export async function seedTenants(ownerUrl: string, encryptionKey: string, tenants: BenchTenant[], keysPerTenant: number): Promise<void> {
  const cipher = new CredentialCipher(encryptionKey);
  const ids = tenants.map((t) => t.id);
  const credTenant: string[] = [];
  const credType: string[] = [];
  const credBlob: Buffer[] = [];
  const credPhone: (string | null)[] = [];
  const credWaba: (string | null)[] = [];
  const credRegion: (string | null)[] = [];
  const credIntegration: (string | null)[] = [];
  const credClient: (string | null)[] = [];
  for (const t of tenants) {
    const meta = { appSecret: t.appSecret, verifyToken: t.verifyToken, accessToken: t.accessToken, phoneNumberId: t.phoneNumberId, wabaId: t.wabaId };
    const genesys = { clientId: t.clientId, clientSecret: t.clientSecret, region: 'mypurecloud.ie', integrationId: t.integrationId, webhookSecret: t.webhookSecret };
    credTenant.push(t.id, t.id);
    credType.push('meta', 'genesys');
    credBlob.push(cipher.encrypt(t.id, 'meta', meta), cipher.encrypt(t.id, 'genesys', genesys));
    credPhone.push(t.phoneNumberId, null);
    credWaba.push(t.wabaId, null);
    credRegion.push(null, genesys.region);
    credIntegration.push(null, t.integrationId);
    credClient.push(null, t.clientId);
  }
  await withOwner(ownerUrl, async (c) => {
    await c.query('BEGIN');
    await c.query(
      // The rate limit follows the plan unless overridden (migration 1732060800131): an override.
      `INSERT INTO tenants (tenant_id, name, rate_limit, quota_overrides, metadata)
       SELECT id, 'Bench tenant ' || id, $2, jsonb_build_object('apiRequestsPerMinute', $2::integer), '{"bench": true}'::jsonb FROM unnest($1::text[]) AS x(id)`,
      [ids, BENCH_RATE_LIMIT],
    );
    await c.query(
      `INSERT INTO tenant_credentials (tenant_id, type, encrypted, phone_number_id, waba_id, region, integration_id, client_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`,
      [credTenant, credType, credBlob, credPhone, credWaba, credRegion, credIntegration, credClient],
    );
    await c.query('COMMIT');
  });
  await addKeys(ownerUrl, tenants, keysPerTenant);
}

/** Gives each tenant `count` more API keys (appended to `tenant.keys`). */
export async function addKeys(ownerUrl: string, tenants: BenchTenant[], count: number): Promise<void> {
  const keyTenant: string[] = [];
  const keyHash: string[] = [];
  const keyPrefix: string[] = [];
  const keyName: string[] = [];
  for (const t of tenants) {
    for (let i = 0; i < count; i++) {
      const key = generateApiKey();
      t.keys.push(key);
      keyTenant.push(t.id);
      keyHash.push(hashApiKey(key));
      keyPrefix.push(apiKeyPrefix(key));
      keyName.push(`bench key ${t.keys.length}`);
    }
  }
  await withOwner(ownerUrl, (c) =>
    c.query(
      `INSERT INTO tenant_api_keys (tenant_id, key_hash, prefix, name) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`,
      [keyTenant, keyHash, keyPrefix, keyName],
    ),
  );
}

/** Runs one statement as the owner (e.g. clearing the delivery queue between phases). */
export async function ownerExec(ownerUrl: string, sql: string): Promise<number> {
  return withOwner(ownerUrl, async (c) => (await c.query(sql)).rowCount ?? 0);
}

export async function ownerScalar<T>(ownerUrl: string, sql: string): Promise<T> {
  return withOwner(ownerUrl, async (c) => (await c.query(sql)).rows[0] as T);
}
