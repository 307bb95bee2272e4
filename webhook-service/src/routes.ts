import express, { Router, type Request } from 'express';
import { forwardedClientIp, setContextCaller } from '@bridge/shared';
import type { IngestDeps } from './ingest/deps';
import { ingestGenesysWebhook } from './ingest/genesys';
import { ingestMetaWebhook, verifyMetaSubscription } from './ingest/meta';
import type { WebhookMetrics } from './metrics';

/** Meta allows 3 MB per webhook POST; Genesys 512,000 bytes. A little headroom on each. */
const META_MAX_BODY = '4mb';
const GENESYS_MAX_BODY = '1mb';

/** Bodies are read raw: signatures are checked on the exact bytes received. */
const metaRaw = express.raw({ type: () => true, limit: META_MAX_BODY });
const genesysRaw = express.raw({ type: () => true, limit: GENESYS_MAX_BODY });

const rawBody = (req: Request): Buffer | undefined => (Buffer.isBuffer(req.body) ? req.body : undefined);
const signature = (req: Request): string | undefined => {
  const value = req.headers['x-hub-signature-256'];
  return typeof value === 'string' ? value : undefined;
};
const pathTenant = (req: Request): string | undefined => req.params.tenantId as string | undefined;

/**
 * The webhook routes, HTTP only: read the raw body, the signature header and the path's tenant,
 * call the ingest use case (ingest/), answer 200 with what it did. Its AppErrors reach the
 * error middleware. Each POST is counted by what became of it (`metrics`, WebhookMetrics).
 */
export function webhookRoutes(deps: IngestDeps, metrics?: WebhookMetrics): Router {
  const r = Router();

  const verification: express.RequestHandler = async (req, res) => {
    const challenge = await verifyMetaSubscription(deps, {
      mode: req.query['hub.mode'],
      token: req.query['hub.verify_token'],
      challenge: req.query['hub.challenge'],
      pathTenant: pathTenant(req),
    });
    res.type('text/plain').send(challenge);
  };
  r.get('/webhook/meta', verification);
  r.get('/webhook/meta/:tenantId', verification);

  // The sender's address, for the security events of bad signatures: as the gateway forwarded it, else the peer's.
  r.use('/webhook', (req, _res, next) => {
    setContextCaller({ clientIp: forwardedClientIp(req) ?? req.ip });
    next();
  });

  const meta: express.RequestHandler = async (req, res) => {
    let result;
    try {
      result = await ingestMetaWebhook(deps, { raw: rawBody(req), signature: signature(req), pathTenant: pathTenant(req) });
    } catch (err) {
      metrics?.refused('meta', err);
      throw err;
    }
    metrics?.meta(result);
    res.status(200).json({ status: 'accepted', ...result });
  };
  r.post('/webhook/meta', metaRaw, meta);
  r.post('/webhook/meta/:tenantId', metaRaw, meta);

  r.post('/webhook/genesys/:tenantId', genesysRaw, async (req, res) => {
    let outcome;
    try {
      outcome = await ingestGenesysWebhook(deps, { tenantId: req.params.tenantId as string, raw: rawBody(req), signature: signature(req) });
    } catch (err) {
      metrics?.refused('genesys', err);
      throw err;
    }
    metrics?.genesys(outcome);
    res.status(200).json({ status: outcome });
  });

  return r;
}
