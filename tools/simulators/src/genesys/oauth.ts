/**
 * Genesys' login service: orgs (OAuth clients and the integrations they own), `POST /oauth/token`
 * with client credentials, and the bearer-token check the Platform API does before anything else.
 */
import { randomBytes } from 'node:crypto';
import { bearerToken, header, isNonEmptyString, mediaType, type SimRequest } from '../common';
import { apiError, faultResponse, oauthError, type GenesysFaults, type Outcome } from './faults';

export interface GenesysOrgOptions {
  clientId: string;
  clientSecret: string;
  /** The org's Open Messaging integration(s). */
  integrationId: string | string[];
  /** Token lifetime; default 86400 (Genesys' default). */
  tokenTtlSeconds?: number;
}

interface Org {
  clientId: string;
  clientSecret: string;
  integrationIds: string[];
  tokenTtlSeconds: number;
}

interface Token {
  clientId: string;
  expiresAt: number;
}

const count = (map: Map<string, number>, key?: string): number =>
  key === undefined ? [...map.values()].reduce((a, b) => a + b, 0) : (map.get(key) ?? 0);

/** The orgs and tokens of one simulator. */
export class GenesysLogin {
  private readonly orgs = new Map<string, Org>();
  private readonly integrationOwner = new Map<string, string>();
  private readonly tokens = new Map<string, Token>();
  private readonly tokenRequestCounts = new Map<string, number>();
  private readonly tokensIssuedCounts = new Map<string, number>();

  constructor(private readonly faults: GenesysFaults) {}

  /** Registers an org; throws when an integration already belongs to another org. */
  addOrg(org: GenesysOrgOptions): void {
    if (!isNonEmptyString(org.clientId) || !isNonEmptyString(org.clientSecret)) {
      throw new TypeError('addOrg: clientId and clientSecret are required');
    }
    const integrationIds = Array.isArray(org.integrationId) ? org.integrationId : [org.integrationId];
    for (const id of integrationIds) {
      const owner = this.integrationOwner.get(id);
      if (owner !== undefined && owner !== org.clientId) throw new Error(`addOrg: integration ${id} already belongs to ${owner}`);
    }
    this.orgs.set(org.clientId, {
      clientId: org.clientId,
      clientSecret: org.clientSecret,
      integrationIds,
      tokenTtlSeconds: org.tokenTtlSeconds ?? 86_400,
    });
    for (const id of integrationIds) this.integrationOwner.set(id, org.clientId);
  }

  /** `POST /oauth/token`: client credentials in HTTP Basic, a form body with `grant_type`. */
  handleToken(req: SimRequest): Outcome {
    if (req.method !== 'POST') return { res: oauthError(405, 'invalid_request', 'Use POST'), injected: false };
    const basic = /^Basic\s+(\S+)\s*$/i.exec(header(req.headers, 'authorization') ?? '');
    const decoded = basic ? Buffer.from(basic[1], 'base64').toString('utf8') : '';
    const sep = decoded.indexOf(':');
    const clientId = sep > 0 ? decoded.slice(0, sep) : undefined;
    const secret = sep > 0 ? decoded.slice(sep + 1) : undefined;
    if (clientId) this.tokenRequestCounts.set(clientId, count(this.tokenRequestCounts, clientId) + 1);
    if (!clientId) {
      return {
        res: oauthError(401, 'invalid_client', 'Client authentication is required (HTTP Basic)'),
        injected: false,
      };
    }
    const org = this.orgs.get(clientId);
    if (!org || org.clientSecret !== secret) {
      return { res: oauthError(401, 'invalid_client', 'client not found or bad client credentials'), clientId, injected: false };
    }
    const fault = this.faults.take({ endpoint: 'token', clientId });
    if (fault) return { res: faultResponse(fault), clientId, injected: true };
    if (mediaType(req.headers) !== 'application/x-www-form-urlencoded') {
      return {
        res: oauthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded'),
        clientId,
        injected: false,
      };
    }
    const form = new URLSearchParams(req.body.toString('utf8'));
    const grant = form.get('grant_type');
    if (!grant) return { res: oauthError(400, 'invalid_request', 'grant_type is required'), clientId, injected: false };
    if (grant !== 'client_credentials') {
      return { res: oauthError(400, 'unsupported_grant_type', `grant_type ${grant} is not supported`), clientId, injected: false };
    }
    const accessToken = randomBytes(48).toString('base64url');
    this.tokens.set(accessToken, { clientId, expiresAt: Date.now() + org.tokenTtlSeconds * 1000 });
    this.tokensIssuedCounts.set(clientId, count(this.tokensIssuedCounts, clientId) + 1);
    return {
      res: {
        status: 200,
        body: { access_token: accessToken, token_type: 'bearer', expires_in: org.tokenTtlSeconds },
        headers: { 'Cache-Control': 'no-store' },
      },
      clientId,
      injected: false,
    };
  }

  /**
   * The Platform API's check of a call on `integrationId`: a live bearer token (else 401) of the
   * org that owns the integration (else 404: from another org, the integration does not exist).
   */
  authorize(req: SimRequest, integrationId: string): { clientId: string } | { denied: Outcome } {
    const auth = this.authenticate(req);
    if ('denied' in auth) return auth;
    if (!this.owns(auth.clientId, integrationId)) {
      return { denied: { res: apiError(404, `Integration ${integrationId} not found`), clientId: auth.clientId, injected: false } };
    }
    return auth;
  }

  /** The Platform API's first check: a live bearer token (else 401), and whose it is. */
  authenticate(req: SimRequest): { clientId: string } | { denied: Outcome } {
    const bearer = bearerToken(req.headers);
    if (!bearer) {
      return { denied: { res: apiError(401, 'No authentication bearer token specified in authorization header.'), injected: false } };
    }
    const token = this.tokens.get(bearer);
    if (!token || token.expiresAt <= Date.now()) {
      return { denied: { res: apiError(401, 'Invalid login credentials.'), injected: false } };
    }
    return { clientId: token.clientId };
  }

  /** True when the integration belongs to the org of this OAuth client. */
  owns(clientId: string, integrationId: string): boolean {
    return this.integrationOwner.get(integrationId) === clientId;
  }

  /** True when some org has this integration. */
  hasIntegration(integrationId: string): boolean {
    return this.integrationOwner.has(integrationId);
  }

  /** Token requests made with this client id (any outcome); all clients when omitted. */
  tokenRequests(clientId?: string): number {
    return count(this.tokenRequestCounts, clientId);
  }

  /** Tokens issued to this client (or to all). */
  tokensIssued(clientId?: string): number {
    return count(this.tokensIssuedCounts, clientId);
  }

  /** Invalidates the tokens issued so far (to this client, or all). */
  revokeTokens(clientId?: string): void {
    for (const [value, token] of this.tokens) if (clientId === undefined || token.clientId === clientId) this.tokens.delete(value);
  }

  /** Forgets the counts (orgs and tokens stay). */
  resetCounts(): void {
    this.tokenRequestCounts.clear();
    this.tokensIssuedCounts.clear();
  }
}
