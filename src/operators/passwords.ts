// Operators' passwords: the policy a new password must meet, and hashing with scrypt (memory-hard,
// node:crypto). A hash is stored as a PHC string with its cost parameters and salt, so the cost can
// rise later (needsRehash) without breaking stored hashes; comparison is constant-time. Passwords
// are never logged, never stored in clear and never returned: nothing here keeps or prints one.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { badInput } from '../errors.js';

/** NIST SP 800-63B asks for at least 8; 10 leaves room for a passphrase without being a chore at the till. */
export const passwordLengthMin = 10;
/** Bounds the work of normalising and hashing a request; a generated passphrase is far shorter. */
export const passwordLengthMax = 128;

/**
 * scrypt cost: N = 2^logN, r = 8, p = 3. logN is config.operators.passwordLogN: 15 by default (32 MiB,
 * one of OWASP's recommended settings, about 0.1-0.2 s of one core), lower only in tests. Stored with
 * each hash: a different setting rehashes at the next sign-in.
 */
const cost = { r: 8, p: 3 } as const;
/** 128 bits of salt, 256 bits of derived key: the usual sizes. */
const saltBytes = 16;
const keyBytes = 32;
/** Stored parameters outside these bounds are refused rather than run (a corrupt row must not stall a process). */
const logNMax = 20;
const rMax = 32;
const pMax = 16;

/** Control characters (C0, DEL, C1): invisible, and a sign of pasted junk rather than a chosen password. */
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;

/** NFKC: a full-width letter from a Chinese input method and its ASCII twin are the same password. */
function normalise(password: string): string {
  return password.normalize('NFKC');
}

/** Refuses a password that breaks the policy (BAD_USER_INPUT naming field); the password itself never appears in the message. */
export function checkPasswordPolicy(password: unknown, field = 'password', username?: string): string {
  if (typeof password !== 'string') throw badInput(field, 'is required');
  const normalised = normalise(password);
  const length = [...normalised].length;
  if (length < passwordLengthMin || length > passwordLengthMax) {
    throw badInput(field, `must be ${passwordLengthMin} to ${passwordLengthMax} characters long; a few unrelated words make a good one`);
  }
  if (controlCharacters.test(normalised)) throw badInput(field, 'must not contain control characters (tabs, line breaks and the like)');
  if (normalised.trim().length !== normalised.length) throw badInput(field, 'must not begin or end with a space');
  if (username && normalised.toLowerCase().includes(username.toLowerCase())) throw badInput(field, 'must not contain the username');
  return normalised;
}

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) => {
    // maxmem: scrypt needs 128·N·r bytes (32 MiB here), exactly Node's default cap; leave headroom.
    scrypt(password, salt, keyBytes, { N, r, p, maxmem: 256 * N * r }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** The PHC string of a new hash of password (already through checkPasswordPolicy). */
export async function hashPassword(password: string, logN: number): Promise<string> {
  const salt = randomBytes(saltBytes);
  const key = await derive(normalise(password), salt, logN, cost.r, cost.p);
  return `$scrypt$ln=${logN},r=${cost.r},p=${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

interface ParsedHash { logN: number; r: number; p: number; salt: Buffer; key: Buffer }

const phcPattern = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]{16,64})\$([A-Za-z0-9_-]{32,128})$/;

function parseHash(stored: string): ParsedHash {
  const match = phcPattern.exec(stored);
  if (!match) throw new Error('invariant broken: a stored password hash is not a $scrypt$ PHC string');
  const [logN, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (logN < 10 || logN > logNMax || r < 1 || r > rMax || p < 1 || p > pMax) throw new Error('invariant broken: a stored password hash has out-of-range scrypt parameters');
  return { logN, r, p, salt: Buffer.from(match[4]!, 'base64url'), key: Buffer.from(match[5]!, 'base64url') };
}

/** Whether password matches the stored hash; constant-time in the comparison. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (typeof password !== 'string' || password.length > passwordLengthMax * 4) {
    // Still pay for one derivation, so that an over-long guess answers no faster than a wrong one.
    await derive('', parsed.salt, parsed.logN, parsed.r, parsed.p);
    return false;
  }
  const key = await derive(normalise(password), parsed.salt, parsed.logN, parsed.r, parsed.p);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/** Whether a stored hash was made with other parameters than today's (then the next sign-in rehashes it). */
export function needsRehash(stored: string, logN: number): boolean {
  const parsed = parseHash(stored);
  return parsed.logN !== logN || parsed.r !== cost.r || parsed.p !== cost.p || parsed.key.length !== keyBytes;
}

const dummies = new Map<number, Promise<string>>();

/**
 * A hash of a random password, made once per process and cost: an unknown username is checked
 * against it, so that it costs the same time as a known one and answers the same message.
 */
export function dummyHash(logN: number): Promise<string> {
  let dummy = dummies.get(logN);
  if (!dummy) {
    dummy = hashPassword(randomBytes(24).toString('base64url'), logN);
    dummies.set(logN, dummy);
  }
  return dummy;
}

/** A strong generated password (for `npm run operator` when none is given): 20 characters, ~119 bits. */
export function generatePassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(40);
  let out = '';
  // rejection sampling: 56 letters, bytes below 224 (= 4·56) keep the choice uniform
  for (const byte of bytes) {
    if (byte < 224) out += alphabet[byte % alphabet.length];
    if (out.length === 20) break;
  }
  return out.length === 20 ? out : generatePassword();
}
