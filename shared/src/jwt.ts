import { createHmac, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { appError } from './errors';

/**
 * Tenant JWTs (`POST /auth/token`), HS256 under a keyring of secrets: the newest signs, every one
 * verifies, found by the key id (`kid`) in the token's header, so `JWT_SECRET` can be replaced
 * without refusing the tokens already handed out (README: "Rotating JWT_SECRET").
 *
 * Claims: `tenant_id`; `key_id`, the id of the API key the token was bought with (the gateway
 * ends the token when that key is revoked or gone, and counts it against the key's own limit);
 * `scope`, the key's scopes when the token was issued, space-separated (RFC 9068 §2.2.3): the
 * gateway grants a token the narrower of these and its key's current scopes (issue #13);
 * `iss` TOKEN_ISSUER and `aud` TOKEN_AUDIENCE, checked; `jti`, `iat`, `exp` (required).
 */
const ALGORITHM = 'HS256' as const;

/** Who signs tenant tokens (the `iss` claim, checked). */
export const TOKEN_ISSUER = 'bridge-auth-service';
/** Who accepts them (the `aud` claim, checked): a token made for something else is refused. */
export const TOKEN_AUDIENCE = 'bridge-gateway';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The id a token's header names its secret by: the first 8 bytes of HMAC-SHA256(secret, a fixed
 * label), as 16 hex digits. Derived rather than configured, so that a secret has one id wherever
 * it is listed; it reveals nothing of the secret.
 */
export function jwtSecretId(secret: string): string {
  return createHmac('sha256', secret).update('bridge-jwt-key-id').digest().subarray(0, 8).toString('hex');
}

/** What a verified tenant token says. */
export interface TenantTokenClaims {
  tenantId: string;
  /** The API key (its id, a UUID) the token was issued with. */
  keyId: string;
  /** The scopes the token carries (its key's when issued); absent from tokens issued before keys had scopes. */
  scopes?: string[];
}

export class TenantTokenKeyring {
  private readonly ring: Array<{ id: string; secret: string }>;

  /** `secrets`: newest first; the first signs. Throws on none, an empty one, or one listed twice. */
  constructor(secrets: readonly string[]) {
    if (!secrets.length || secrets.some((s) => !s)) throw new Error('A JWT keyring needs at least one non-empty secret');
    this.ring = secrets.map((secret) => ({ id: jwtSecretId(secret), secret }));
    if (new Set(this.ring.map((k) => k.id)).size !== this.ring.length) throw new Error('A JWT keyring must not hold a secret twice');
  }

  /** The `kid` of tokens signed now. */
  get keyId(): string {
    return this.ring[0].id;
  }

  /** Signs a token for `claims` with the newest secret, valid for `ttlSeconds`. */
  sign(claims: TenantTokenClaims, ttlSeconds: number): { token: string; expiresIn: number; jti: string } {
    const jti = randomUUID();
    const { id, secret } = this.ring[0];
    const payload = { tenant_id: claims.tenantId, key_id: claims.keyId, ...(claims.scopes ? { scope: claims.scopes.join(' ') } : {}) };
    const token = jwt.sign(payload, secret, {
      algorithm: ALGORITHM,
      keyid: id,
      expiresIn: ttlSeconds,
      jwtid: jti,
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
    });
    return { token, expiresIn: ttlSeconds, jti };
  }

  /**
   * Verifies a token with the secret its `kid` names and returns its claims. Every failure is a
   * 401: TOKEN_EXPIRED for an expired one, INVALID_TOKEN for anything else (bad signature, no or
   * unknown `kid`, another algorithm, wrong `iss`/`aud`, no `exp`, no `tenant_id` or `key_id`).
   * Says only whether the token is well made: whether its key still stands is the caller's check.
   */
  verify(token: string): TenantTokenClaims {
    const kid = (jwt.decode(token, { complete: true }) as jwt.Jwt | null)?.header.kid;
    const entry = typeof kid === 'string' ? this.ring.find((k) => k.id === kid) : undefined;
    if (!entry) throw appError('INVALID_TOKEN', 'The token is not signed by a current key');
    let payload: jwt.JwtPayload | string;
    try {
      // `algorithms` pinned: `alg: none` and asymmetric-key confusion are refused by the library.
      payload = jwt.verify(token, entry.secret, { algorithms: [ALGORITHM], issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE });
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) throw appError('TOKEN_EXPIRED');
      throw appError('INVALID_TOKEN');
    }
    if (typeof payload === 'string' || typeof payload.exp !== 'number') throw appError('INVALID_TOKEN', 'The token has no expiry');
    const { tenant_id: tenantId, key_id: keyId, scope } = payload;
    if (typeof tenantId !== 'string' || !tenantId) throw appError('INVALID_TOKEN', 'The token names no tenant');
    if (typeof keyId !== 'string' || !UUID.test(keyId)) throw appError('INVALID_TOKEN', 'The token names no API key');
    if (scope !== undefined && typeof scope !== 'string') throw appError('INVALID_TOKEN', 'The token’s scope is not a string');
    return { tenantId, keyId: keyId.toLowerCase(), ...(scope === undefined ? {} : { scopes: scope.split(' ').filter(Boolean) }) };
  }
}
