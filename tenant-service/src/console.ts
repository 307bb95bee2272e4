import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import { appError } from '@bridge/shared';

/**
 * Where `npm run build -w tenant-service` (Vite, tenant-service/console/vite.config.mjs) puts the
 * admin console: tenant-service/dist/console, beside the compiled server (and found from src/ when
 * the tests run the TypeScript).
 */
export const DEFAULT_CONSOLE_DIR = path.resolve(__dirname, '..', 'dist', 'console');

/**
 * The console's Content-Security-Policy: its own script, style, fonts and API calls only, images
 * also as data: URLs; no inline script or style (the build has none), no <base>, no form posts,
 * never in a frame.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Vite's content-hashed file names (`assets/index-B1a2c3D4.js`): never change, cached for a year. */
const HASHED = /^\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

/**
 * Serves the admin console (issue #16) under `/console`, public like /docs: the page holds no
 * secret and every action it takes goes through the admin API with the admin key the user types
 * (kept in the page's memory, sent as `Authorization: Bearer`). Mounted before requireBearer.
 *
 * - Every answer under /console carries CONSOLE_CSP, `X-Content-Type-Options: nosniff`,
 *   `Referrer-Policy: no-referrer`.
 * - Hashed assets: `Cache-Control: public, max-age=31536000, immutable`; index.html and the rest:
 *   `no-cache` (revalidated, so a new build is picked up at once).
 * - `/console/<anything not a file>` is the page (the console routes in the browser), but a
 *   missing `/console/assets/…` file is 404 ROUTE_NOT_FOUND, never the page in its place.
 * - Not built (no `index.html` in `dir`): 503 CONSOLE_NOT_BUILT in the contract's error shape.
 */
export function serveConsole(app: Express, dir: string = DEFAULT_CONSOLE_DIR): void {
  const headers: RequestHandler = (_req, res, next) => {
    res.set({
      'Content-Security-Policy': CONSOLE_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
    next();
  };
  const index = path.join(dir, 'index.html');
  const built: RequestHandler = (_req, _res, next) => {
    // Checked per request: a console built while the service runs is served without a restart.
    if (!existsSync(index)) throw appError('CONSOLE_NOT_BUILT');
    next();
  };
  const page: RequestHandler = (_req, res) => {
    res.set('Cache-Control', 'no-cache').sendFile(index);
  };
  // /console → /console/: the page's relative asset URLs resolve under /console/.
  // (Express matches /console/ here too: routing is not strict.)
  app.get('/console', (req, res, next) => {
    const q = req.originalUrl.indexOf('?');
    if ((q >= 0 ? req.originalUrl.slice(0, q) : req.originalUrl) !== '/console') return next();
    headers(req, res, () => res.redirect(301, `/console/${q >= 0 ? req.originalUrl.slice(q) : ''}`));
  });
  app.use(
    '/console',
    headers,
    built,
    express.static(dir, {
      index: false,
      redirect: false,
      fallthrough: true,
      setHeaders: (res, file) => {
        const rel = `/${path.relative(dir, file).split(path.sep).join('/')}`;
        res.setHeader('Cache-Control', HASHED.test(rel) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
    (req, res, next) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next();
      if (req.path.startsWith('/assets/')) throw appError('ROUTE_NOT_FOUND');
      page(req, res, next);
    },
  );
}
