import http from 'node:http';
import net from 'node:net';
import { startFront, type Front } from '../src/front';

/** An HTTP server answering its own name. */
async function named(name: string): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((_req, res) => res.end(name));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const { server, port } = await named('gone');
  await new Promise((r) => server.close(r));
  return port;
}

/** One request on a connection of its own (no keep-alive: each goes through the front's choice). */
function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe('the round-robin TCP front (scripts/src/front.ts)', () => {
  const servers: http.Server[] = [];
  let front: Front | undefined;
  afterEach(async () => {
    await front?.close();
    front = undefined;
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  it('hands connections to its upstreams in turn', async () => {
    const a = await named('a');
    const b = await named('b');
    servers.push(a.server, b.server);
    front = await startFront([a.port, b.port]);
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push(await get(front.url));
    expect(answers).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    expect(front.piped).toEqual([3, 3]);
  });

  it('skips an upstream that refuses connections, and uses it again once it listens', async () => {
    const a = await named('a');
    servers.push(a.server);
    const port = await deadPort();
    front = await startFront([a.port, port]);
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) answers.push(await get(front.url));
    expect(answers).toEqual(['a', 'a', 'a', 'a']);
    // The replica comes back on its port.
    const b = http.createServer((_req, res) => res.end('b'));
    servers.push(b);
    await new Promise<void>((r) => b.listen(port, '127.0.0.1', r));
    const later: string[] = [];
    for (let i = 0; i < 4; i++) later.push(await get(front.url));
    expect(later.sort()).toEqual(['a', 'a', 'b', 'b']);
    expect(front.refused).toBe(0);
  });

  it('closes the connection when no upstream accepts it', async () => {
    front = await startFront([await deadPort(), await deadPort()]);
    await expect(get(front.url)).rejects.toThrow();
    expect(front.refused).toBe(1);
    expect(front.piped).toEqual([0, 0]);
  });

  it('keeps a half-closed connection open for the answer', async () => {
    // Answers with what it read, once the client has finished writing.
    const echo = net.createServer({ allowHalfOpen: true }, (s) => {
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('end', () => s.end(`read: ${got}`));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    front = await startFront([(echo.address() as net.AddressInfo).port]);
    const answer = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port: front!.port, allowHalfOpen: true });
      let got = '';
      c.on('data', (d) => (got += d));
      c.on('end', () => resolve(got));
      c.on('error', reject);
      c.end('hello');
    });
    expect(answer).toBe('read: hello');
    await new Promise((r) => echo.close(r));
  });

  it('cuts a connection whose upstream dies (a reset, not a clean end the caller could take for a whole answer)', async () => {
    // Sends half an answer, then its process "dies" (the socket is reset).
    const dying = net.createServer((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      setTimeout(() => s.resetAndDestroy(), 50);
    });
    await new Promise<void>((r) => dying.listen(0, '127.0.0.1', r));
    front = await startFront([(dying.address() as net.AddressInfo).port]);
    const outcome = await new Promise<string>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port: front!.port });
      c.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      c.on('end', () => resolve('end'));
      c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    expect(outcome).toBe('ECONNRESET');
    await new Promise((r) => dying.close(r));
  });
});
