/** Test helpers shared by the simulators' tests: a scriptable webhook receiver and a JSON POST. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

export interface Received {
  headers: Record<string, string | string[] | undefined>;
  raw: Buffer;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Statuses to answer, in order; when exhausted, 200. A negative value = never answer. */
  script: number[];
  close(): Promise<void>;
}

/** A small webhook receiver: records raw bodies and answers from a scripted list of statuses. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const script: number[] = [];
  const app = express();
  app.use(express.raw({ type: () => true, limit: '5mb' }));
  app.all('/{*rest}', (req, res) => {
    received.push({ headers: req.headers, raw: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0) });
    const status = script.shift() ?? 200;
    if (status < 0) return; // hang: the sender must time out
    res.status(status).json({ ok: status < 300 });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    received,
    script,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}
