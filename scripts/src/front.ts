import net from 'node:net';

/**
 * A round-robin TCP front over a service's replicas, as a Kubernetes Service (kube-proxy) puts one
 * in front of a Deployment's ready pods: each incoming connection goes to the next upstream port
 * in turn and is piped both ways, bytes unread (HTTP keep-alive connections stay on the replica
 * they were opened to, as behind kube-proxy). An upstream that refuses the connection (killed,
 * restarting, or closed its listener on SIGTERM) is skipped for the next one, as readiness takes
 * a pod out of a Service's endpoints; when every upstream refuses, the client's connection is
 * closed. A connection already piped to a replica that dies is cut, as in production: its
 * caller sees the error and retries (Meta and Genesys do). Loopback only; used by the soak and
 * the bench's cluster runner (cluster.ts) for services run as several processes.
 */
export interface Front {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** Connections piped to each upstream so far, in the order of `upstreams`. */
  readonly piped: number[];
  /** Client connections closed because no upstream accepted them. */
  readonly refused: number;
  close(): Promise<void>;
}

/** Listens on `port` (0: a free one) of 127.0.0.1 and spreads connections over `upstreams` (ports of 127.0.0.1). */
export async function startFront(upstreams: number[], port = 0): Promise<Front> {
  if (upstreams.length === 0) throw new Error('a front needs at least one upstream');
  const open = new Set<net.Socket>();
  const piped = upstreams.map(() => 0);
  let refused = 0;
  let next = 0;

  const track = (s: net.Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };

  /** Connects to the upstreams from `first` on, in turn, until one accepts; undefined when none does. */
  const connect = (first: number, tried = 0): Promise<{ socket: net.Socket; index: number } | undefined> => {
    if (tried >= upstreams.length) return Promise.resolve(undefined);
    const index = (first + tried) % upstreams.length;
    return new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: upstreams[index], allowHalfOpen: true });
      const failed = () => {
        socket.destroy();
        resolve(connect(first, tried + 1));
      };
      socket.once('error', failed);
      socket.once('connect', () => {
        socket.off('error', failed);
        resolve({ socket, index });
      });
    });
  };

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    track(client);
    // A client that goes away while we connect must not crash us.
    client.on('error', () => client.destroy());
    const first = next;
    next = (next + 1) % upstreams.length;
    void connect(first).then((up) => {
      if (!up) {
        refused++;
        client.destroy();
        return;
      }
      const upstream = up.socket;
      track(upstream);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      piped[up.index]++;
      // Either side failing cuts both (a reset, not a clean end: the caller must not take a cut
      // response for a whole one).
      upstream.on('error', () => client.resetAndDestroy());
      client.on('error', () => upstream.destroy());
      client.once('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    piped,
    get refused() {
      return refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
