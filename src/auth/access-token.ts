import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, decodeProtectedHeader, errors } from 'jose';
import type { KeyRing } from './signing-keys.ts';
import type { UserRole } from './principal.ts';

/** Access tokens live one hour (issue 12). */
export const ACCESS_TOKEN_SECONDS = 3600;
/** Clock skew tolerated on exp and nbf between GridPulse copies and clients. */
export const CLOCK_SKEW_SECONDS = 30;
/** RFC 9068's media type for JWT access tokens, in the `typ` header. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

export interface TokenSettings { issuer: string; audience: string }

export interface AccessClaims { sub: string; role: UserRole; sid: string; sv: number; exp: number; iat: number; jti: string }

/** Signs an access JWT: header alg, kid, typ; claims iss, aud, sub (user id), role, sid (session), sv (session version), iat, nbf, exp, jti. */
export async function signAccessToken(ring: KeyRing, settings: TokenSettings, claims: { sub: string; role: UserRole; sid: string; sv: number }, now = Date.now()): Promise<string> {
  const key = await ring.signingKey();
  const iat = Math.floor(now / 1000);
  return new SignJWT({ role: claims.role, sid: claims.sid, sv: claims.sv })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYP })
    .setIssuer(settings.issuer).setAudience(settings.audience).setSubject(claims.sub)
    .setIssuedAt(iat).setNotBefore(iat).setExpirationTime(iat + ACCESS_TOKEN_SECONDS).setJti(randomUUID())
    .sign(key.privateKey!);
}

/** Why a token was refused: said in the 401's detail and the audit record. */
export class TokenRefused extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;

/**
 * Verifies a JWT signed by this GridPulse (user access tokens here, OpenADR client tokens in client-credentials.ts):
 * only the configured algorithm (so `none` and HS256-with-the-public-key are refused before any key is used), a kid
 * that names one of our published keys (never a key carried or pointed to by the token: jwk, jku, x5u, x5c headers
 * are refused), typ at+jwt, our iss and aud, exp and nbf within CLOCK_SKEW_SECONDS, and a lifetime (exp − iat) of at most ACCESS_TOKEN_SECONDS + CLOCK_SKEW_SECONDS. Returns the payload; throws
 * TokenRefused with the reason.
 */
export async function verifySignedJwt(ring: KeyRing, settings: TokenSettings, token: string, now = Date.now()): Promise<Record<string, unknown>> {
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TokenRefused('the token is not a JWT');
  }
  if (header.alg !== ring.alg) throw new TokenRefused(`alg '${String(header.alg)}' is not accepted (only ${ring.alg})`);
  const carried = FORBIDDEN_HEADERS.filter((h) => h in header);
  if (carried.length) throw new TokenRefused(`the token's header carries ${carried.join(', ')}: keys are never taken from a token`);
  if (typeof header.kid !== 'string') throw new TokenRefused('the token names no kid');
  const key = await ring.verificationKey(header.kid);
  if (!key) throw new TokenRefused(`unknown kid '${header.kid.slice(0, 64)}'`);
  try {
    const { payload } = await jwtVerify(token, key.publicKey, {
      algorithms: [ring.alg], issuer: settings.issuer, audience: settings.audience, typ: ACCESS_TOKEN_TYP,
      clockTolerance: CLOCK_SKEW_SECONDS, currentDate: new Date(now), requiredClaims: ['sub', 'exp', 'iat', 'nbf', 'jti'], maxTokenAge: ACCESS_TOKEN_SECONDS + CLOCK_SKEW_SECONDS,
    });
    // jose's maxTokenAge bounds iat only: a token we signed never lives longer than an hour (exp − iat)
    if (typeof payload.exp !== 'number' || typeof payload.iat !== 'number' || payload.exp - payload.iat > ACCESS_TOKEN_SECONDS + CLOCK_SKEW_SECONDS) {
      throw new TokenRefused(`the token lives longer than ${ACCESS_TOKEN_SECONDS} s (exp − iat)`);
    }
    return payload as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TokenRefused) throw err;
    if (err instanceof errors.JWTExpired) throw new TokenRefused('the token has expired');
    if (err instanceof errors.JWTClaimValidationFailed) throw new TokenRefused(`claim ${err.claim} is not valid (${err.reason})`);
    if (err instanceof errors.JWSSignatureVerificationFailed) throw new TokenRefused('the signature does not verify');
    throw new TokenRefused(`the token is not valid (${(err as Error).message.slice(0, 120)})`);
  }
}

/** Verifies a user's access JWT (verifySignedJwt) and the claims GridPulse needs (sub, role, sid, sv, jti). Throws TokenRefused with the reason. */
export async function verifyAccessToken(ring: KeyRing, settings: TokenSettings, token: string, now = Date.now()): Promise<AccessClaims> {
  const payload = await verifySignedJwt(ring, settings, token, now);
  const { sub, role, sid, sv, exp, iat, jti } = payload as Partial<AccessClaims>;
  if (typeof sub !== 'string' || typeof role !== 'string' || typeof sid !== 'string' || typeof sv !== 'number' || typeof jti !== 'string') {
    throw new TokenRefused('the token lacks sub, role, sid or sv');
  }
  return { sub, role: role as UserRole, sid, sv, exp: exp!, iat: iat!, jti };
}
