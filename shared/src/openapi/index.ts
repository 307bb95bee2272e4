import path from 'node:path';
import type { Express, RequestHandler } from 'express';
import { z } from 'zod';
import { OpenAPIRegistry, OpenApiGeneratorV31, extendZodWithOpenApi, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { ERROR_CODES, type ErrorCode } from '../error-codes';

// `.openapi(...)` on every zod schema (names, examples); the schemas themselves stay the ones that validate.
extendZodWithOpenApi(z);

export { OpenAPIRegistry };

/** Every error code (shared/src/error-codes.ts), as the document's enum. */
export const errorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]).openapi('ErrorCode', {
  description: 'One of the codes of shared/src/error-codes.ts (README "Error codes"); each has one HTTP status.',
});

/** The one error shape of every 4xx/5xx (CONTRACT.md "Errors"; errorBody in shared/src/errors.ts). */
export const errorResponseSchema = z
  .object({
    error: z
      .object({
        code: errorCodeSchema,
        message: z.string().describe('What went wrong; for bad input `field: problem` (up to five, `; ` between).'),
        requestId: z.string().optional().describe('The X-Request-ID of the request, for support.'),
      })
      .strict(),
  })
  .strict()
  .openapi('Error');

/** A JSON answer of `schema`, for `responses`. */
export const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });

/** An error answer (the one error shape), for `responses`; `codes` name what it may carry. */
export const errorAnswer = (codes: ErrorCode[]) => json(errorResponseSchema, codes.map((c) => `${c}: ${ERROR_CODES[c].message}`).join('; '));

/** The errors of `codes`, grouped by their status, for `responses`. */
export function errorResponses(codes: ErrorCode[]): Record<string, ReturnType<typeof json>> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of codes) byStatus.set(ERROR_CODES[c].status, [...(byStatus.get(ERROR_CODES[c].status) ?? []), c]);
  return Object.fromEntries([...byStatus].map(([status, cs]) => [String(status), errorAnswer(cs)]));
}

/** `responses` with the errors of `codes` every route may answer (a status both name: one answer, both descriptions). */
export function withCommonErrors<T extends { description: string }>(responses: Record<string, T>, codes: ErrorCode[]): Record<string, T | ReturnType<typeof json>> {
  const merged: Record<string, T | ReturnType<typeof json>> = { ...responses };
  for (const [status, common] of Object.entries(errorResponses(codes))) {
    merged[status] = merged[status] ? { ...merged[status], description: `${merged[status].description}; ${common.description}` } : common;
  }
  return merged;
}

/** A route as registerPath takes it, plus `x-required-scope` (the gateway's scope table) where it applies. */
export type DocumentedRoute = RouteConfig & { 'x-required-scope'?: string | null };

/** The OpenAPI 3.1 document of `registry`. */
export function generateDocument(registry: OpenAPIRegistry, info: { title: string; version: string; description: string }): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({ openapi: '3.1.0', info });
}

/** The OpenAPI path of an Express path: `/tenants/:tenantId` → `/tenants/{tenantId}`. */
export const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

const DOCS_HTML = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>API documentation</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

// No inline script: the page works under `script-src 'self'`.
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;

/** The Content-Security-Policy of the documentation page: nothing from elsewhere, no inline script. */
export const DOCS_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/**
 * Serves, unauthenticated, `GET /openapi.json` (the document, built once on first use) and
 * `GET /docs` (Swagger UI from the swagger-ui-dist package: no CDN; the page and its
 * initialiser are files, so DOCS_CSP's `script-src 'self'` holds). Mount before any
 * authentication.
 */
export function serveApiDocs(app: Express, document: () => object): void {
  let built: object | undefined;
  app.get('/openapi.json', (_req, res) => {
    built ??= document();
    res.set('Cache-Control', 'no-cache').json(built);
  });
  const csp: RequestHandler = (_req, res, next) => {
    res.set('Content-Security-Policy', DOCS_CSP);
    next();
  };
  app.get(['/docs', '/docs/'], csp, (_req, res) => {
    res.type('html').send(DOCS_HTML);
  });
  app.get('/docs/init.js', csp, (_req, res) => {
    res.type('application/javascript').send(DOCS_INIT);
  });
  // Only the two files the page loads, from the package (nothing else of it is served).
  const dist = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  for (const file of ['swagger-ui.css', 'swagger-ui-bundle.js']) {
    app.get(`/docs/${file}`, csp, (_req, res) => {
      res.set('Cache-Control', 'public, max-age=3600').sendFile(path.join(dist, file));
    });
  }
}

export * from './responses';
