import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startTestSystem, type TestSystem } from './support/system';

/**
 * The README's curl walk-throughs, run as written (only the hosts are pointed at this test's
 * ports). `curl` fails on any HTTP error, so a step that stops working fails the test.
 */
const README = readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

function block(name: string): string {
  const match = new RegExp(`<!-- readme-test: ${name} -->\\s*\`\`\`bash\\n([\\s\\S]*?)\`\`\``).exec(README);
  if (!match) throw new Error(`README has no block marked readme-test: ${name}`);
  return match[1];
}

let sys: TestSystem;

beforeAll(async () => {
  sys = await startTestSystem();
});

afterAll(() => sys.stop());

describe('README', () => {
  it('runs the admin walk-through and the tenant API examples as written', async () => {
    const script = [block('admin'), block('tenant'), block('quotas')]
      .join('\n')
      .replaceAll('http://localhost:3007', sys.urls['tenant-service'])
      .replaceAll('http://localhost:3000', sys.urls.gateway);
    // Asynchronously: the services answering the script run in this process.
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        'bash',
        ['-c', `set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; echo; }\n${script}`],
        { env: { PATH: process.env.PATH, ADMIN_API_KEY: sys.adminApiKey, HOME: process.env.HOME }, timeout: 20_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`README script failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout)),
      );
    });
    expect(out).toContain('"tenantId":"acme-corp"');
    expect(out).toMatch(/"apiKey":"sk_/);
    expect(out).toContain('"appSecret":"****cret"');
    expect(out).not.toContain('meta-app-secret');
    expect(out).not.toContain('genesys-client-secret');
    expect(out).toMatch(/^204$/m);
    expect(out).toContain('"status":"suspended"');
    expect(out).toContain('"totalMappings":1');
    expect(out).toContain('"contactName":"Sheena Nelson"');
    expect(out).toMatch(/"conversations":\[\{"waId":"16505551234"/);
    expect(out).toMatch(/"events":\[\{"id":"\d+","actor":"key:[^"]+","action":"mapping.written"/);
    expect(out).toMatch(/\{"ok":true,"events":\d+\}/);
    expect(out).toMatch(/"name":"team","description":null,"messagesPerDay":null,"messagesPerMonth":5000/);
    expect(out).toContain('"notificationWebhook":{"url":"https://hooks.acme.example/bridge"}');
    expect(out).not.toContain('whsec-acme-0123456789');
    expect(out).toMatch(/"quota":"messagesPerMonth","period":"month","used":\d+,"limit":5000/);
  });
});
