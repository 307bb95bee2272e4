import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The admin console's build (`npm run build -w tenant-service`): React, bundled whole (no CDN at
 * run time) into ../dist/console, which tenant-service serves at /console (src/console.ts).
 * The output has no inline script or style: the page runs under a CSP of 'self' only.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  // Never reads .env files: the console has no build-time settings.
  envDir: false,
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // The polyfill would be inlined into the entry; every browser the console targets has modulepreload.
    modulePreload: { polyfill: false },
    // Never inline assets as data: URLs into scripts or styles: what is served is what was built.
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
