import { execFile } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './support/db';

/** `npm run demo` as the README shows it (on this run's PostgreSQL rather than an embedded one). */
let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase();
});

afterAll(() => tdb.drop());

it('runs the demo conversation through the whole platform and stops by itself', async () => {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(__dirname, '..', 'scripts', 'dist', 'demo.js')],
      { env: { PATH: process.env.PATH, DATABASE_URL: tdb.ownerUrl, DB_APP_PASSWORD: process.env.DB_APP_PASSWORD }, timeout: 60_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout)),
    );
  });
  expect(output).toMatch(/→ Genesys\s+inbound message .* from "Sheena Nelson"/);
  expect(output).toMatch(/→ WhatsApp\s+sent to 16505551234 with the tenant's token/);
  expect(output).toContain("receipts for the agent's message: Delivered, Delivered");
  expect(output).toContain('"totalMessages":2');
  expect(output).toMatch(/Done\.\s*$/);
}, 90_000);
