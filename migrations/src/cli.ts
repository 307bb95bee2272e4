#!/usr/bin/env node
import { z } from 'zod';
import { migrate } from './index';

const env = z
  .object({
    DATABASE_URL: z.string().min(1).describe("The owner's connection string"),
    DB_APP_PASSWORD: z.string().min(1).optional().describe('Password to set on the application role'),
  })
  .safeParse(process.env);

if (!env.success) {
  process.stderr.write(`Invalid environment: ${env.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
  process.exit(1);
}

const direction = process.argv[2] === 'down' ? 'down' : 'up';
migrate({ databaseUrl: env.data.DATABASE_URL, appRolePassword: env.data.DB_APP_PASSWORD, direction, count: direction === 'down' ? 1 : undefined })
  .then((applied) => {
    process.stdout.write(applied.length ? `Applied ${applied.length} migration(s): ${applied.join(', ')}\n` : 'Database is up to date\n');
  })
  .catch((err: Error) => {
    process.stderr.write(`Migration failed: ${err.message}\n`);
    process.exit(1);
  });
