import http from 'node:http';
import type { Request, RequestHandler } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { ERROR_CODES, errorBody, type Logger } from '@bridge/shared';

/** Keep-alive connections to the services: reusing them is the biggest factor in proxy throughput. */
export function createAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 512, keepAliveMsecs: 10_000 });
}

/**
 * The client's address as the gateway resolved it (`req.ip`: the connection's, or the
 * X-Forwarded-For entry TRUST_PROXY_HOPS says to believe), an IPv4 client of a dual-stack socket
 * as IPv4.
 */
const clientAddress = (req: Request): string | undefined => (req.ip ?? req.socket.remoteAddress)?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');

/**
 * Forwards requests whose path starts with `prefix` to `target`, path unchanged, body unread
 * (streamed as it arrives). A service that is down or too slow → 503 in the contract's shape.
 * The service gets `X-Forwarded-For: <client address>`, one entry, whatever the client or the
 * proxies in front sent: the address the audit trail records (forwardedClientIp), the client's
 * even behind an ingress (TRUST_PROXY_HOPS), not the ingress's.
 */
export function proxyTo(prefix: string, target: string, options: { timeoutMs: number; logger: Logger; agent: http.Agent }): RequestHandler {
  return createProxyMiddleware({
    target,
    pathFilter: (path) => path === prefix || path.startsWith(`${prefix}/`),
    changeOrigin: true,
    agent: options.agent,
    proxyTimeout: options.timeoutMs,
    timeout: options.timeoutMs,
    xfwd: false,
    on: {
      proxyReq: (proxyReq, req) => {
        const address = clientAddress(req as Request);
        if (address) proxyReq.setHeader('x-forwarded-for', address);
        else proxyReq.removeHeader('x-forwarded-for');
      },
      error: (err, req, res) => {
        const code = (err as NodeJS.ErrnoException).code;
        options.logger.warn({ err: { code, message: err.message }, target: prefix }, 'service unavailable');
        if (!('writeHead' in res)) {
          res.destroy();
          return;
        }
        const response = res as http.ServerResponse;
        if (response.headersSent) {
          response.destroy();
          return;
        }
        response.writeHead(ERROR_CODES.SERVICE_UNAVAILABLE.status, { 'Content-Type': 'application/json; charset=utf-8', 'Retry-After': '1' });
        const body = errorBody('SERVICE_UNAVAILABLE', `The ${prefix.slice(1)} service is unavailable; try again shortly`);
        body.error.requestId ??= req.headers['x-request-id'] as string | undefined;
        response.end(JSON.stringify(body));
      },
    },
  });
}
