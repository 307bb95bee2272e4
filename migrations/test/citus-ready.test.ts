import { createTestDatabase, ownerQuery, type TestDatabase } from '../../test/support/db';

/**
 * The schema can be distributed by tenant (Citus: each tenant's rows on one shard): in every
 * table with a `tenant_id` column, the primary key and every unique constraint or unique index
 * include `tenant_id`, and every foreign key to another tenant table carries it (both sides), so
 * no constraint ever needs rows of two tenants, or two shards, to be checked. Read from the
 * catalog of the migrated database, so a future migration that breaks it fails here.
 */
let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.drop());

/**
 * Tables with a `tenant_id` that are deliberately platform-wide (under Citus: reference tables,
 * copied to every node, or left on the coordinator), each with its reason.
 */
const PLATFORM_WIDE: Record<string, string> = {
  tenants: 'the tenant directory itself: one row per tenant, its subdomain unique platform-wide (tenant resolution); the reference table every tenant table points at',
  phone_number_owners: 'the numbers’ directory: a business number belongs to one tenant platform-wide, as webhooks are routed by it (migration 1732060800160)',
  audit_events:
    'the audit chains: the platform’s chain (tenant_id NULL, which a distribution column cannot hold) beside the tenants’, one id sequence hashed into every chain; admin changes, rare, kept on the coordinator',
};

/**
 * Tables without `tenant_id` (platform-wide by nature), each with its reason; a new one must be
 * named here, so that a tenant-owned table cannot slip in without the column.
 */
const WITHOUT_TENANT: Record<string, string> = {
  pgmigrations: 'the migrations applied (node-pg-migrate’s bookkeeping)',
  audit_anchors: 'where each audit chain starts after the retention purge, the platform’s chain included',
  unclaimed_webhook_changes: 'Meta changes for numbers no tenant owns yet: held until one claims the number, so owned by none',
  plans: 'the plans tenants are on (their limits, migration 1732060800131): platform data every tenant’s plan names (under Citus, a reference table beside tenants)',
};

const q = <T>(sql: string) => ownerQuery<T>(tdb, sql);

async function tenantTables(): Promise<string[]> {
  const rows = await q<{ table: string }>(`
    SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
       AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
     ORDER BY 1`);
  return rows.map((r) => r.table).filter((t) => !(t in PLATFORM_WIDE));
}

describe('a schema ready to distribute by tenant_id', () => {
  it('names every table without tenant_id, with its reason', async () => {
    const rows = await q<{ table: string }>(`
      SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
         AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
       ORDER BY 1`);
    expect(rows.map((r) => r.table).sort()).toEqual(Object.keys(WITHOUT_TENANT).sort());
  });

  it('puts tenant_id in the primary key of every tenant table', async () => {
    const tables = await tenantTables();
    const rows = await q<{ table: string; columns: string[] }>(`
      SELECT c.relname AS table, array_agg(a.attname::text ORDER BY k.n) AS columns
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, n)
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
       WHERE n.nspname = 'public' AND con.contype = 'p'
       GROUP BY c.relname`);
    const pk = new Map(rows.map((r) => [r.table, r.columns]));
    const wrong = tables.filter((t) => !pk.get(t)?.includes('tenant_id')).map((t) => `${t} (${pk.get(t)?.join(', ') ?? 'no primary key'})`);
    expect(wrong).toEqual([]);
  });

  it('puts tenant_id in every unique constraint and unique index of a tenant table', async () => {
    const tables = new Set(await tenantTables());
    const rows = await q<{ table: string; index: string; columns: string[] | null; expression: string | null }>(`
      SELECT c.relname AS table, i.relname AS index,
             (SELECT array_agg(a.attname::text) FROM unnest(x.indkey) AS k(attnum) JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) AS columns,
             pg_get_expr(x.indexprs, x.indrelid) AS expression
        FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND x.indisunique`);
    const wrong = rows
      .filter((r) => tables.has(r.table) && !(r.columns ?? []).includes('tenant_id'))
      .map((r) => `${r.table}.${r.index} (${[...(r.columns ?? []), r.expression].filter(Boolean).join(', ')})`)
      .sort();
    expect(wrong).toEqual([]);
  });

  it('carries tenant_id, on both sides, in every foreign key between tenant tables', async () => {
    const tables = new Set(await tenantTables());
    const rows = await q<{ table: string; name: string; target: string; columns: string[]; targets: string[] }>(`
      SELECT c.relname AS table, con.conname AS name, f.relname AS target,
             (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns,
             (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum) AS targets
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class f ON f.oid = con.confrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND con.contype = 'f'`);
    const wrong = rows
      .filter((r) => tables.has(r.table) && tables.has(r.target))
      .filter((r) => r.columns.indexOf('tenant_id') < 0 || r.columns.indexOf('tenant_id') !== r.targets.indexOf('tenant_id'))
      .map((r) => `${r.table}.${r.name} (${r.columns.join(', ')}) → ${r.target} (${r.targets.join(', ')})`)
      .sort();
    expect(wrong).toEqual([]);
  });
});
