#!/usr/bin/env node
/**
 * Re-encrypts every tenant's credentials under the newest key of the credentials keyring:
 * `npm run rotate-credentials`, or in the tenant-service container
 * `node tenant-service/dist/rotate-credentials.js`. It reads the environment tenant-service reads
 * (DATABASE_URL as the application role, CREDENTIALS_ENCRYPTION_KEYS newest first) and may run
 * while the services do: tenants are taken a page at a time, and each credentials row is
 * re-encrypted in its own short transaction under that tenant's row-level-security scope. Rows
 * already under the newest key are skipped, so a second run changes nothing and reports 0.
 *
 * Logs one JSON line per unreadable row and a summary; exits 0 when every row is under the
 * newest key, 1 otherwise (a row no key of the ring opens, or an error).
 * README: "Rotating the credentials encryption key".
 */
import { CredentialCipher, Database, MemoryCache, createLogger, dbTimeouts, loadConfig, requireCredentialKeys, type Logger } from '@bridge/shared';
import { configSchema } from './config';
import { createTenantUseCases, type TenantUseCases } from './tenants';

export interface RotationSummary {
  /** The id of the key every row should now be under. */
  keyId: string;
  tenants: number;
  reencrypted: number;
  /** Rows that were already under the newest key. */
  current: number;
  unreadable: Array<{ tenantId: string; type: string; reason?: string }>;
}

/** Walks every tenant, `pageSize` at a time, re-encrypting rows not under `keyId`. */
export async function rotateCredentials(tenants: TenantUseCases, keyId: string, logger: Logger, pageSize = 100): Promise<RotationSummary> {
  const summary: RotationSummary = { keyId, tenants: 0, reencrypted: 0, current: 0, unreadable: [] };
  for (let after: string | undefined; ; ) {
    const page = await tenants.listTenants(pageSize, after);
    for (const { tenantId } of page) {
      summary.tenants++;
      for (const { type, outcome, reason } of await tenants.reencryptCredentials(tenantId)) {
        if (outcome === 'reencrypted') summary.reencrypted++;
        else if (outcome === 'current') summary.current++;
        else if (outcome === 'unreadable') {
          summary.unreadable.push({ tenantId, type, reason });
          logger.error({ tenantId, type, reason }, 'credentials not re-encrypted: no key of the keyring opens them');
        }
      }
    }
    if (page.length < pageSize) return summary;
    after = page[page.length - 1].tenantId;
  }
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = loadConfig(configSchema, env);
  const logger = createLogger({ name: 'rotate-credentials', level: config.LOG_LEVEL });
  const cipher = new CredentialCipher(requireCredentialKeys(config));
  // One connection: the work is sequential, and the services keep the rest of the pool.
  const db = new Database({ connectionString: config.DATABASE_URL, max: 1, applicationName: 'rotate-credentials', timeouts: dbTimeouts(config), namedStatements: config.DB_NAMED_STATEMENTS });
  const cache = new MemoryCache();
  try {
    logger.info({ keyId: cipher.keyId, keyring: cipher.keyIds }, 're-encrypting tenant credentials under the newest key');
    const tenants = createTenantUseCases({ db, cache, cipher, logger });
    const { unreadable, ...counts } = await rotateCredentials(tenants, cipher.keyId, logger);
    logger.info({ ...counts, unreadable: unreadable.length }, unreadable.length ? 'rotation incomplete: some rows remain under other keys' : 'every credentials row is under the newest key');
    return unreadable.length ? 1 : 0;
  } finally {
    await Promise.allSettled([db.close(), cache.close()]);
  }
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`rotate-credentials failed: ${err.message}\n`);
      process.exitCode = 1;
    },
  );
}
