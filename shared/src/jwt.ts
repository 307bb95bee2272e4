import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { appError } from './errors';

/** Tenant JWTs: HS256 only, `exp` required, `tenant_id` claim required. */
const ALGORITHM = 'HS256' as const;

export function signTenantToken(secret: string, tenantId: string, ttlSeconds: number): { token: string; expiresIn: number; jti: string } {
  const jti = randomUUID();
  const token = jwt.sign({ tenant_id: tenantId }, secret, { algorithm: ALGORITHM, expiresIn: ttlSeconds, jwtid: jti });
  return { token, expiresIn: ttlSeconds, jti };
}

/** Verifies a tenant JWT and returns its tenant id; every failure is a 401 with a code saying which. */
export function verifyTenantToken(secret: string, token: string): string {
  let payload: jwt.JwtPayload | string;
  try {
    // `algorithms` pinned: `alg: none` and asymmetric-key confusion are refused by the library.
    payload = jwt.verify(token, secret, { algorithms: [ALGORITHM] });
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError) throw appError('TOKEN_EXPIRED');
    throw appError('INVALID_TOKEN');
  }
  if (typeof payload === 'string' || typeof payload.exp !== 'number') throw appError('INVALID_TOKEN', 'The token has no expiry');
  const tenantId = payload.tenant_id;
  if (typeof tenantId !== 'string' || !tenantId) throw appError('INVALID_TOKEN', 'The token names no tenant');
  return tenantId;
}
