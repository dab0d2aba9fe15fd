/** Reads JWT claims without verifying the signature: STS verifies it; we only refuse what it would refuse. */

export interface JwtClaims {
  aud?: unknown;
  exp?: unknown;
  iss?: unknown;
  sub?: unknown;
  [claim: string]: unknown;
}

/** Why a token cannot be used, in words that point at the cause. */
export class JwtError extends Error {
  override name = 'JwtError';
}

function decodePart(part: string, what: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) throw new JwtError(`its ${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new JwtError(`its ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JwtError(`its ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** The payload of a compact JWS (`header.payload.signature`). */
export function decodeJwt(token: string): JwtClaims {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || parts.some((part) => part === '')) {
    throw new JwtError(`it has ${parts.length} non-empty dot-separated segments, not 3`);
  }
  decodePart(parts[0]!, 'header');
  return decodePart(parts[1]!, 'payload');
}

export interface JwtCheck {
  audience: string;
  now?: Date;
}

/** Decodes and checks `aud` and `exp`; returns when the token expires. */
export function checkJwt(token: string, check: JwtCheck): { claims: JwtClaims; expiresAt: Date } {
  const claims = decodeJwt(token);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(check.audience)) {
    throw new JwtError(`its audience is ${JSON.stringify(claims.aud ?? null)}, not ${check.audience}`);
  }
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) {
    throw new JwtError('it has no numeric exp claim');
  }
  const expiresAt = new Date(claims.exp * 1000);
  const now = check.now ?? new Date();
  if (expiresAt.getTime() <= now.getTime()) {
    throw new JwtError(`it expired at ${expiresAt.toISOString()} (now ${now.toISOString()})`);
  }
  return { claims, expiresAt };
}
