// Slows down an address that keeps failing to sign in: past a number of failed sign-ins in a window
// it is refused (RATE_LIMITED, with when to retry) before any password is checked; a successful
// sign-in from it clears its count. In process and bounded (a flood of addresses cannot grow it
// without limit): with several service processes the limit holds per process. The per-account
// lockout (signIn.ts) lives in the database and holds across processes.
import { BankError } from '../errors.js';

/** The window failures are counted in: long enough to make guessing slow, short enough to forgive a bad morning. */
export const signInFailureWindowMs = 15 * 60_000;
/** Addresses tracked at most: about 1 MB; past it the oldest are forgotten (a few guesses more, never a wrong refusal). */
export const trackedAddressesMax = 10_000;

/** A refusal that says when to come back; the resolver turns it into HTTP 429 with Retry-After. */
export class SignInThrottled extends BankError {
  constructor(readonly retryAfterMs: number) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super('RATE_LIMITED', `too many failed sign-ins from your address; try again in ${seconds} s (${Math.ceil(seconds / 60)} min)`);
  }
}

export class AddressThrottle {
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly failuresMax: number, private readonly now: () => number) {}

  /** Refuses an address that has used up its failures in the current window. */
  check(address: string): void {
    const entry = this.failures.get(address);
    if (!entry) return;
    const now = this.now();
    if (entry.resetAt <= now) {
      this.failures.delete(address);
      return;
    }
    if (entry.count >= this.failuresMax) throw new SignInThrottled(entry.resetAt - now);
  }

  recordFailure(address: string): void {
    const now = this.now();
    let entry = this.failures.get(address);
    if (!entry || entry.resetAt <= now) {
      if (!entry && this.failures.size >= trackedAddressesMax) this.prune(now);
      entry = { count: 0, resetAt: now + signInFailureWindowMs };
      this.failures.delete(address);
      this.failures.set(address, entry);
    }
    entry.count += 1;
  }

  recordSuccess(address: string): void {
    this.failures.delete(address);
  }

  /** How many addresses are tracked (for tests of the bound). */
  get size(): number {
    return this.failures.size;
  }

  private prune(now: number): void {
    for (const [address, entry] of this.failures) if (entry.resetAt <= now) this.failures.delete(address);
    // Map order is insertion order: the oldest windows go first.
    for (const address of this.failures.keys()) {
      if (this.failures.size < trackedAddressesMax) break;
      this.failures.delete(address);
    }
  }
}
