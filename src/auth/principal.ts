// Bearer tokens → principals → scope checks. A principal is who is asking (JWT `sub`), in which
// role, with which branch scope (a subtree), and for merchants and members whose wallet it is.
// A token made by signIn (claim `sid`) is good only while its operator session is live.
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Bank } from '../bank.js';
import type { Config } from '../config.js';
import { isWithin, type Branch } from '../directory/branches.js';
import { BankError } from '../errors.js';
import { findLiveSession, sessionEndedMessage } from '../operators/sessions.js';

export type Role = 'admin' | 'client' | 'merchant' | 'member';
export const roles: readonly Role[] = ['admin', 'client', 'merchant', 'member'];

export interface Principal {
  sub: string;
  role: Role;
  /** The scope: an admin manages, a client awards, inside this branch's subtree. */
  branch: Branch;
  headId: string;
  memberId: string | null;
  merchantId: string | null;
  /** Rule codes a client may apply; '*' for any. */
  rules: '*' | ReadonlySet<string>;
  /** For a token made by signIn: the operator signed in and its session. */
  operatorId?: string;
  sessionId?: string;
}

/** Tokens longer than this are refused unread. */
const tokenLengthMax = 8192;
const idPattern = /^\d{1,18}$/;
const sessionIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const operatorSubPattern = /^operator:(\d{1,18})$/;

const verificationKeys = new WeakMap<Config, { key: KeyObject; algorithms: jwt.Algorithm[] }>();

/**
 * The key tokens are checked with, made once per configuration: given a string, jsonwebtoken
 * builds a KeyObject on every verify (first trying, and failing, to read the secret as a public
 * key), which was a third of the CPU of a small request.
 */
export function verificationKey(config: Config): { key: KeyObject; algorithms: jwt.Algorithm[] } {
  let made = verificationKeys.get(config);
  if (!made) {
    made = config.jwt.publicKey
      ? { key: createPublicKey(config.jwt.publicKey), algorithms: [config.jwt.algorithm] }
      : { key: createSecretKey(Buffer.from(config.jwt.secret!, 'utf8')), algorithms: ['HS256'] };
    verificationKeys.set(config, made);
  }
  return made;
}

function unauthenticated(message: string): BankError {
  return new BankError('UNAUTHENTICATED', message);
}

/** Verifies a bearer token (signature, issuer, audience, expiry required) and resolves its branch. */
export async function authenticate(bank: Bank, authorization: string | undefined): Promise<Principal> {
  if (!authorization) throw unauthenticated('send an Authorization: Bearer <token> header (npm run token prints one)');
  const match = /^Bearer ([A-Za-z0-9_\-.=]+)$/.exec(authorization.trim());
  if (!match || match[1]!.length > tokenLengthMax) throw unauthenticated('the Authorization header must be "Bearer <token>"');
  const { key, algorithms } = verificationKey(bank.config);
  let claims: jwt.JwtPayload;
  try {
    const verified = jwt.verify(match[1]!, key, {
      algorithms, issuer: bank.config.jwt.issuer, audience: bank.config.jwt.audience, clockTolerance: 5,
    });
    if (typeof verified === 'string') throw new Error('token payload is not an object');
    claims = verified;
  } catch (error) {
    throw unauthenticated(`token rejected: ${(error as Error).message}`);
  }
  if (typeof claims.exp !== 'number') throw unauthenticated('token rejected: it must carry an expiry (exp)');
  if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 200) {
    throw unauthenticated('token rejected: sub must be a non-empty string');
  }
  const role = claims.role as Role;
  if (!roles.includes(role)) throw unauthenticated(`token rejected: role must be one of ${roles.join(', ')}`);
  if (typeof claims.branch !== 'string') throw unauthenticated('token rejected: branch (the scope) is missing');
  const branch = await bank.branches.byCodeOrNull(claims.branch);
  if (!branch) throw unauthenticated(`token rejected: no branch "${claims.branch}"`);
  const memberId = claims.member === undefined ? null : String(claims.member);
  const merchantId = claims.merchant === undefined ? null : String(claims.merchant);
  if (role === 'member' && (!memberId || !idPattern.test(memberId))) throw unauthenticated('token rejected: a member token needs a member id');
  if (role === 'merchant' && (!merchantId || !idPattern.test(merchantId))) throw unauthenticated('token rejected: a merchant token needs a merchant id');
  let rules: Principal['rules'] = new Set();
  if (claims.rules === '*') rules = '*';
  else if (Array.isArray(claims.rules) && claims.rules.every((r) => typeof r === 'string')) rules = new Set(claims.rules as string[]);
  else if (typeof claims.rules === 'string') rules = new Set(claims.rules.split(',').filter(Boolean));
  const principal: Principal = { sub: claims.sub, role, branch, headId: branch.headId, memberId, merchantId, rules };
  if (claims.sid !== undefined) {
    // A signed-in operator: one indexed query, and the token's claims must still be what the operator is.
    const operator = operatorSubPattern.exec(claims.sub);
    if (typeof claims.sid !== 'string' || !sessionIdPattern.test(claims.sid) || !operator) {
      throw unauthenticated('token rejected: a session token needs sid (a session id) and sub operator:<id>');
    }
    const live = await findLiveSession(bank, branch.headId, claims.sid, operator[1]!, bank.clock());
    const matches = live !== null && live.role === role && live.merchantId === merchantId
      && (role === 'admin' ? live.branchId === branch.id : branch.id === branch.headId);
    if (!matches) throw unauthenticated(sessionEndedMessage);
    principal.operatorId = operator[1]!;
    principal.sessionId = claims.sid;
  }
  return principal;
}

export function requireRole(principal: Principal, ...allowed: Role[]): void {
  if (!allowed.includes(principal.role)) {
    throw new BankError('FORBIDDEN', `this needs the role ${allowed.join(' or ')}; your token has role ${principal.role}`);
  }
}

/**
 * Admins and clients act inside their branch subtree; the check every resolver makes. The refusal
 * names no identifier of what was refused (its branch, a member's externalId): `kind` is a noun
 * ("member", "branch"). Reads of one object by its id answer an out-of-scope object as if it did not
 * exist (visibleOrNull), so that ids cannot be probed for what lies outside a scope.
 */
export function requireScope(principal: Principal, branch: Branch, kind = 'this'): void {
  if (branch.headId !== principal.headId || !isWithin(branch, principal.branch)) {
    throw new BankError('FORBIDDEN', `the ${kind} is outside your scope (${principal.branch.code})`);
  }
}

/** value when check passes; null when check refuses it as FORBIDDEN (out of the caller's scope reads like not found). */
export async function visibleOrNull<T>(value: T, check: (value: T) => Promise<void>): Promise<T | null> {
  try {
    await check(value);
    return value;
  } catch (error) {
    if (error instanceof BankError && error.code === 'FORBIDDEN') return null;
    throw error;
  }
}

export function mayApplyRule(principal: Principal, ruleCode: string): boolean {
  if (principal.role === 'admin') return true;
  return principal.rules === '*' || principal.rules.has(ruleCode);
}

/**
 * A client naming a rule outside its token's list: NOT_FOUND, the same answer a '*' token gets for a
 * code no rule has, so a rule list hides whether the other rules exist; the field names the rule.
 */
export function ruleNotForToken(field: string, ruleCode: string): BankError {
  return new BankError('NOT_FOUND', `${field}: no rule "${ruleCode}" that your token may apply`, field, { id: 'rule.notForToken', params: { field, rule: ruleCode } });
}
