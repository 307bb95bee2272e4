import { Router } from 'express';
import { z } from 'zod';
import { jsonBody, parseInput, requireInternalCaller, setContextTenant, type CallerTokens } from '@bridge/shared';
import type { GenesysTokenBroker } from './genesys-token-broker';

const tokenRequestSchema = z.object({
  tenantId: z.string().regex(/^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$/, 'must be a tenant id'),
  rejectedToken: z.string().min(1).max(8192).optional(),
});

/**
 * Routes for the other services (`callers`: genesys-connector), served on the internal listener:
 * `POST /internal/genesys/token`. The paths are absolute, and the caller check and body parser
 * apply to this route only, so the router can be mounted at the root next to anything else.
 */
export function internalRoutes(broker: GenesysTokenBroker, callers: CallerTokens): Router {
  const r = Router();
  r.post('/internal/genesys/token', requireInternalCaller(callers), jsonBody('16kb'), async (req, res) => {
    const { tenantId, rejectedToken } = parseInput(tokenRequestSchema, req.body ?? {});
    setContextTenant(tenantId);
    const token = await broker.token(tenantId, rejectedToken);
    res.set('Cache-Control', 'no-store');
    res.json({ accessToken: token.accessToken, expiresAt: token.expiresAt });
  });
  return r;
}
