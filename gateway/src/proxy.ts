import http from 'node:http';
import type { RequestHandler } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { ERROR_CODES, errorBody, type Logger } from '@bridge/shared';

/** Keep-alive connections to the services: reusing them is the biggest factor in proxy throughput. */
export function createAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 512, keepAliveMsecs: 10_000 });
}

/**
 * Forwards requests whose path starts with `prefix` to `target`, path unchanged, body unread
 * (streamed as it arrives). A service that is down or too slow → 503 in the contract's shape.
 */
export function proxyTo(prefix: string, target: string, options: { timeoutMs: number; logger: Logger; agent: http.Agent }): RequestHandler {
  return createProxyMiddleware({
    target,
    pathFilter: (path) => path === prefix || path.startsWith(`${prefix}/`),
    changeOrigin: true,
    agent: options.agent,
    proxyTimeout: options.timeoutMs,
    timeout: options.timeoutMs,
    xfwd: true,
    on: {
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
