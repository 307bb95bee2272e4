import { execFile } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './support/db';

/** `npm run demo` as the README shows it (on this run's PostgreSQL rather than an embedded one): scene 1, a reply in the window; scene 2, the next morning, the window closed. */
let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase();
});

afterAll(() => tdb.drop());

it('runs the demo’s two scenes through the whole platform and stops by itself', async () => {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(__dirname, '..', 'scripts', 'dist', 'demo.js')],
      { env: { PATH: process.env.PATH, DATABASE_URL: tdb.ownerUrl, DB_APP_PASSWORD: process.env.DB_APP_PASSWORD }, timeout: 60_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout)),
    );
  });
  expect(output).toMatch(/GET \/templates → synced from Meta: order_update \(en_US\) "Hi \{\{1\}\}, your order \{\{2\}\} is on its way\.", reopen \(en_US\)/);

  // Scene 1.
  expect(output).toMatch(/→ Genesys\s+inbound message .* from "Sheena Nelson"/);
  expect(output).toMatch(/→ WhatsApp\s+sent to 16505551234 with the tenant's token/);
  expect(output).toContain("receipts for the agent's message: Delivered, Delivered");

  // Scene 2, the next morning (wrapped lines joined): the free text refused before Meta, with the reason.
  const flat = output.replace(/\n {39}/g, ' ');
  expect(flat).toMatch(/→ Genesys\s+inbound message .*, from "Ana Ruiz"\n/);
  expect(flat).toMatch(
    /→ Genesys\s+receipt Failed, MessageExpired, no call to Meta; the agent reads: "The customer's 24-hour window closed on \S+ \(their last message was at \S+\); WhatsApp only lets you send an approved template now: write "\/template <name> <language>" on the first line, then one parameter per line\. Approved templates: order_update \(en_US\): 2 parameter\(s\); reopen \(en_US\): 1 parameter\(s\)\."/,
  );
  // The agent's template reaches the customer, rendered, and is delivered; the customer's answer reaches Genesys.
  expect(flat).toMatch(/→ WhatsApp\s+template order_update \(en_US\), wamid \S+; the customer reads: "Hi Ana, your order #4411 is on its way\."/);
  expect(flat).toContain('receipt for the template: Delivered');
  expect(flat).toMatch(/→ Genesys\s+inbound message .*, from "Ana Ruiz": "Great, thank you! 🙏"/);
  expect(flat).toMatch(/→ WhatsApp\s+sent as text again \(her window is open\)/);

  expect(output).toContain('"totalMappings":2,"totalMessages":7');
  expect(output).toMatch(/Done\.\s*$/);
}, 90_000);
