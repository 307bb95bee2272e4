import { createHttpClient, regionUrl, type GenesysCredentials, type HttpClient, type MetaCredentials } from '@bridge/shared';

/**
 * Live checks of a tenant's stored credentials (`POST /tenants/:id/credentials/:type/verify`):
 * one harmless request to the provider with them, and what it says, in words an admin can act on
 * and without any secret.
 *
 * - Meta: `GET {META_GRAPH_URL}/{phone-number-id}?fields=id,display_phone_number,verified_name,quality_rating`
 *   with the access token (Graph API, "WhatsApp Business Phone Number" node:
 *   developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/;
 *   shared/reference/whatsapp-cloud-api.md). Error 190 is a refused token; any other error is a
 *   token that cannot read this number (e.g. 100 subcode 33: no access to it).
 * - Genesys: `POST {GENESYS_LOGIN_URL}/oauth/token` with the client credentials grant, as the
 *   token broker does (auth-service/src/genesys-token-broker.ts); the token is thrown away.
 *   400/401/403 is a refused client (e.g. `invalid_client`).
 * Neither follows redirects (the request carries a secret).
 */

/** What was wrong: the provider refused the credential; it cannot reach what it names; the provider could not be asked. */
export type VerifyProblem = 'META_TOKEN_INVALID' | 'META_NUMBER_UNREACHABLE' | 'GENESYS_CREDENTIALS_REFUSED' | 'PROVIDER_UNAVAILABLE';

export type VerifyFinding =
  | { ok: true; details: Record<string, unknown> }
  | { ok: false; problem: VerifyProblem; message: string; providerStatus?: number; providerCode?: number | string };

/** Default timeout of each verify request, ms. */
export const DEFAULT_VERIFY_TIMEOUT_MS = 10_000;
const MAX_TEXT = 500;

export interface CredentialVerifierOptions {
  /** META_GRAPH_URL, version included. */
  graphUrl: string;
  /** GENESYS_LOGIN_URL, e.g. `https://login.{region}`. */
  loginUrlTemplate: string;
  timeoutMs?: number;
}

export class CredentialVerifier {
  private readonly http: HttpClient;

  constructor(private readonly options: CredentialVerifierOptions) {
    this.http = createHttpClient({ timeoutMs: options.timeoutMs ?? DEFAULT_VERIFY_TIMEOUT_MS, maxRedirects: 0, maxSockets: 8 });
  }

  async meta(credentials: MetaCredentials): Promise<VerifyFinding> {
    const url = `${this.options.graphUrl.replace(/\/+$/, '')}/${encodeURIComponent(credentials.phoneNumberId)}`;
    let res;
    try {
      res = await this.http.get(url, {
        params: { fields: 'id,display_phone_number,verified_name,quality_rating' },
        headers: { Authorization: `Bearer ${credentials.accessToken}`, Accept: 'application/json' },
      });
    } catch (err) {
      return unavailable('Meta', err);
    }
    const body = (res.data ?? {}) as Record<string, unknown>;
    if (res.status >= 200 && res.status < 300 && body.id !== undefined) {
      return {
        ok: true,
        details: { phoneNumberId: String(body.id), displayPhoneNumber: body.display_phone_number ?? null, verifiedName: body.verified_name ?? null, qualityRating: body.quality_rating ?? null },
      };
    }
    const error = (body.error ?? {}) as { message?: unknown; code?: unknown };
    const code = typeof error.code === 'number' ? error.code : undefined;
    const said = redact(typeof error.message === 'string' ? error.message : `Meta answered HTTP ${res.status}`, credentials.accessToken);
    if (code === 190) return { ok: false, problem: 'META_TOKEN_INVALID', message: `Meta refused the access token: ${said}`, providerStatus: res.status, providerCode: code };
    if (res.status >= 500 || res.status === 429) return { ok: false, problem: 'PROVIDER_UNAVAILABLE', message: `Meta could not answer: ${said}`, providerStatus: res.status, providerCode: code };
    return {
      ok: false,
      problem: 'META_NUMBER_UNREACHABLE',
      message: `The access token cannot read phone number ${credentials.phoneNumberId}: ${said}`,
      providerStatus: res.status,
      providerCode: code,
    };
  }

  async genesys(credentials: GenesysCredentials): Promise<VerifyFinding> {
    const url = `${regionUrl(this.options.loginUrlTemplate, credentials.region)}/oauth/token`;
    const basic = Buffer.from(`${credentials.clientId}:${credentials.clientSecret}`, 'utf8').toString('base64');
    let res;
    try {
      res = await this.http.post(url, 'grant_type=client_credentials', {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${basic}`, Accept: 'application/json' },
      });
    } catch (err) {
      return unavailable('Genesys login', err);
    }
    const body = (res.data ?? {}) as Record<string, unknown>;
    if (res.status >= 200 && res.status < 300 && typeof body.access_token === 'string') {
      return { ok: true, details: { clientId: credentials.clientId, region: credentials.region, tokenExpiresIn: typeof body.expires_in === 'number' ? body.expires_in : null } };
    }
    const reason = typeof body.error === 'string' ? body.error : typeof body.code === 'string' ? body.code : undefined;
    const description = [body.error_description, body.description, body.message].find((d): d is string => typeof d === 'string');
    const said = redact([reason, description].filter(Boolean).join(': ') || `HTTP ${res.status}`, credentials.clientSecret).slice(0, MAX_TEXT);
    if (res.status === 400 || res.status === 401 || res.status === 403) {
      return {
        ok: false,
        problem: 'GENESYS_CREDENTIALS_REFUSED',
        message: `Genesys refused OAuth client ${credentials.clientId} in ${credentials.region}: ${said}`,
        providerStatus: res.status,
        ...(reason ? { providerCode: reason } : {}),
      };
    }
    return { ok: false, problem: 'PROVIDER_UNAVAILABLE', message: `Genesys login could not answer: ${said}`, providerStatus: res.status };
  }

  close(): void {
    this.http.close();
  }
}

/** No answer: the code and message only (an axios error's config holds the secret). */
function unavailable(who: string, err: unknown): VerifyFinding {
  const e = err as { code?: string; message?: string };
  return { ok: false, problem: 'PROVIDER_UNAVAILABLE', message: `${who} unreachable: ${e.code ?? e.message ?? 'network error'}` };
}

function redact(text: string, secret: string): string {
  return (secret ? text.split(secret).join('[redacted]') : text).slice(0, MAX_TEXT);
}
