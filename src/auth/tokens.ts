// Mints tokens for local use (`npm run token`) and for tests, signed with the configured key.
import jwt from 'jsonwebtoken';
import type { Config } from '../config.js';
import type { Role } from './principal.js';

export interface TokenClaims {
  sub: string;
  role: Role;
  branch: string;
  member?: string;
  merchant?: string;
  rules?: string[] | '*';
  /** The operator session a signed-in token belongs to (src/operators/sessions.ts); checked on every request. */
  sid?: string;
}

export function signToken(config: Config, claims: TokenClaims, expiresInSeconds = 24 * 3600): string {
  const key = config.jwt.algorithm === 'HS256' ? config.jwt.secret : config.jwt.privateKey;
  if (!key) throw new Error(`signing ${config.jwt.algorithm} tokens needs ${config.jwt.algorithm === 'HS256' ? 'JWT_SECRET' : 'JWT_PRIVATE_KEY'}`);
  return jwt.sign({ ...claims }, key, {
    algorithm: config.jwt.algorithm, issuer: config.jwt.issuer, audience: config.jwt.audience, expiresIn: expiresInSeconds,
  });
}
