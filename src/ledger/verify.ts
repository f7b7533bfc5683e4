// Verification of a head bank's books from the raw tables (invariants 1, 2 and 8), as anyone with
// read access to the database can do it: every balance and held amount recomputed from postings
// (deferred system balances as balance + unsettled deltas), each transaction and the trial balance
// summing to zero per asset, every final transaction in the chain (or queued for it), and the whole
// digest chain recomputed from the first transaction. Reads only; reports problems, never mends them.
import type { Bank } from '../bank.js';
import { requireRole, type Principal } from '../auth/principal.js';
import { BankError } from '../errors.js';
import { computeTrialBalance, findBalanceMismatches, type TrialBalanceLine } from './accounts.js';
import { chainDigest, genesisDigest } from './chain.js';
import { readChainEntries, readSealPage } from './sql/chainEntries.js';

/** Seals read per round trip while recomputing the chain: bounds memory whatever the journal's length. */
const verifyPageSize = 2_000;
/** Problems listed in a report: the first tells where to look; a flood of them tells nothing more. */
export const problemsListedMax = 20;

export type ProblemCheck = 'CHAIN' | 'UNSEALED' | 'TRANSACTION_BALANCE' | 'ACCOUNT_BALANCE' | 'TRIAL_BALANCE' | 'PUBLISHED_DIGEST';

export interface VerifyProblem {
  check: ProblemCheck;
  message: string;
  transactionId: string | null;
  accountId: string | null;
  sequence: string | null;
}

export interface LedgerDigest { headId: string; sequence: string; digest: string; sealedAt: Date | null; queued: number }

export interface VerifyReport {
  ok: boolean;
  headId: string;
  /** The chain as recomputed (the last sealed sequence and its digest). */
  sequence: string;
  digest: string;
  transactionsSealed: number;
  transactionsQueued: number;
  accountsChecked: number;
  trialBalance: TrialBalanceLine[];
  problems: VerifyProblem[];
  problemCount: number;
}

/** A digest published earlier (ledgerDigest), to check that the history up to it is unchanged. */
export interface PublishedDigest { sequence: string; digest: string }

function problem(check: ProblemCheck, message: string, ids: Partial<Pick<VerifyProblem, 'transactionId' | 'accountId' | 'sequence'>> = {}): VerifyProblem {
  return { check, message, transactionId: ids.transactionId ?? null, accountId: ids.accountId ?? null, sequence: ids.sequence ?? null };
}

export async function readLedgerDigest(bank: Bank, headId: string): Promise<LedgerDigest> {
  const { rows } = await bank.pool.query({
    name: 'cb_ledger_digest',
    text: `SELECT c.sequence::text AS sequence, c.digest, c.sealed_at,
                  (SELECT count(*)::int FROM journal_seal_queue q WHERE q.head_id = $1) AS queued
             FROM (SELECT 1) one LEFT JOIN journal_chains c ON c.head_id = $1`,
    values: [headId],
  });
  const r = rows[0];
  return { headId, sequence: r.sequence ?? '0', digest: (r.digest ?? genesisDigest).toString('hex'), sealedAt: r.sealed_at, queued: r.queued };
}

/** Recomputes the chain; the first broken link ends the walk (every later digest depends on it). */
async function verifyChain(bank: Bank, headId: string, published: PublishedDigest | undefined, since: PublishedDigest | undefined, problems: VerifyProblem[]) {
  let previous = genesisDigest;
  let sequence = 0n;
  let publishedSeen = false;
  if (since && since.sequence !== '0') {
    // Start from a checkpoint verified before: its seal must still be the digest trusted then.
    const [seal] = await readSealPage(bank.pool, headId, String(BigInt(since.sequence) - 1n), 1);
    if (!seal || seal.sequence !== since.sequence || seal.digest.toString('hex') !== since.digest.toLowerCase()) {
      problems.push(problem('PUBLISHED_DIGEST', `the seal at sequence ${since.sequence} is ${seal?.sequence === since.sequence ? 'not the trusted digest: the history up to it was rewritten' : 'missing: seals were removed'}`,
        { sequence: since.sequence, transactionId: seal?.sequence === since.sequence ? seal.transactionId : undefined }));
      return { sequence: '0', digest: genesisDigest, sealed: 0 };
    }
    previous = seal.digest;
    sequence = BigInt(since.sequence);
  }
  const first = sequence;
  for (;;) {
    const seals = await readSealPage(bank.pool, headId, String(sequence), verifyPageSize);
    if (!seals.length) break;
    const entries = new Map((await readChainEntries(bank.pool, headId, seals.map((s) => s.transactionId))).map((e) => [e.id, e]));
    for (const seal of seals) {
      const ids = { transactionId: seal.transactionId, sequence: seal.sequence };
      if (BigInt(seal.sequence) !== sequence + 1n) {
        problems.push(problem('CHAIN', `the chain jumps from sequence ${sequence} to ${seal.sequence}: seals are missing`, ids));
        return { sequence: String(sequence), digest: previous, sealed: Number(sequence - first) };
      }
      const entry = entries.get(seal.transactionId);
      if (!entry) {
        problems.push(problem('CHAIN', `sealed transaction ${seal.transactionId} (sequence ${seal.sequence}) is missing from the journal`, ids));
        return { sequence: String(sequence), digest: previous, sealed: Number(sequence - first) };
      }
      const digest = chainDigest(previous, seal.sequence, entry);
      if (!digest.equals(seal.digest)) {
        problems.push(problem('CHAIN', `transaction ${seal.transactionId} (sequence ${seal.sequence}) differs from what was sealed: its row or its postings were changed, added or removed`, ids));
        return { sequence: String(sequence), digest: previous, sealed: Number(sequence - first) };
      }
      if (published && seal.sequence === published.sequence) {
        publishedSeen = true;
        if (digest.toString('hex') !== published.digest.toLowerCase()) {
          problems.push(problem('PUBLISHED_DIGEST', `the digest at sequence ${seal.sequence} is not the published one: the history up to it was rewritten`, ids));
        }
      }
      previous = digest;
      sequence += 1n;
    }
  }
  if (published && !publishedSeen && published.sequence !== '0') {
    problems.push(problem('PUBLISHED_DIGEST', `the chain ends at sequence ${sequence}, before the published sequence ${published.sequence}: seals were removed`));
  }
  const head = await readLedgerDigest(bank, headId);
  if (head.sequence !== String(sequence) || head.digest !== previous.toString('hex')) {
    problems.push(problem('CHAIN', `the chain head says sequence ${head.sequence}, the seals end at ${sequence} with another digest`, { sequence: head.sequence }));
  }
  return { sequence: String(sequence), digest: previous, sealed: Number(sequence - first) };
}

/**
 * Verifies one head bank's books; see the module comment for what is checked. With `since` (a
 * checkpoint verified earlier: a sequence and its digest) the chain is recomputed from there only:
 * its seal must still hold that digest, and everything after it must link to it. That keeps a
 * regular verification of a long journal proportional to what was added since (balances are
 * always recomputed in full).
 */
export async function verifyHeadBank(bank: Bank, headId: string, published?: PublishedDigest, since?: PublishedDigest): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  const chain = await verifyChain(bank, headId, published, since, problems);

  // Every final transaction is in the chain or waiting for the sealer.
  const unsealed = await bank.knex.raw(`
    SELECT t.id::text AS id FROM transactions t
     WHERE t.head_id = ? AND t.status <> 'PENDING'
       AND NOT EXISTS (SELECT 1 FROM journal_seals s WHERE s.head_id = t.head_id AND s.transaction_id = t.id)
       AND NOT EXISTS (SELECT 1 FROM journal_seal_queue q WHERE q.head_id = t.head_id AND q.transaction_id = t.id)
     ORDER BY t.id LIMIT ?`, [headId, problemsListedMax]);
  for (const r of unsealed.rows) problems.push(problem('UNSEALED', `final transaction ${r.id} is neither sealed nor queued for sealing`, { transactionId: r.id }));

  // Invariant 1, per transaction: its postings sum to zero per asset.
  const unbalanced = await bank.knex.raw(`
    SELECT p.transaction_id::text AS id, p.asset_code, sum(p.amount)::text AS total FROM postings p
     WHERE p.head_id = ? GROUP BY p.transaction_id, p.asset_code HAVING sum(p.amount) <> 0
     ORDER BY p.transaction_id LIMIT ?`, [headId, problemsListedMax]);
  for (const r of unbalanced.rows) {
    problems.push(problem('TRANSACTION_BALANCE', `transaction ${r.id}'s ${r.asset_code} postings sum to ${r.total}, not 0`, { transactionId: r.id }));
  }

  // Invariant 2: balances and held amounts recomputed from postings.
  for (const m of await findBalanceMismatches(bank, headId)) {
    problems.push(problem('ACCOUNT_BALANCE',
      `account ${m.accountId} records balance ${m.recorded} and held ${m.held}; its postings give ${m.fromPostings} and pending debits ${m.pendingDebits}`,
      { accountId: m.accountId }));
  }

  // Invariant 1, whole bank: the trial balance.
  const trialBalance = await computeTrialBalance(bank, headId);
  for (const line of trialBalance) {
    if (!line.balanced) problems.push(problem('TRIAL_BALANCE', `the ${line.asset} balances of the bank sum to ${line.total}, not 0`));
  }

  const counts = await bank.knex.raw(`SELECT (SELECT count(*)::int FROM accounts WHERE head_id = ?) AS accounts,
    (SELECT count(*)::int FROM journal_seal_queue WHERE head_id = ?) AS queued`, [headId, headId]);
  return {
    ok: problems.length === 0, headId, sequence: chain.sequence, digest: chain.digest.toString('hex'),
    transactionsSealed: chain.sealed, transactionsQueued: counts.rows[0].queued, accountsChecked: counts.rows[0].accounts,
    trialBalance, problems: problems.slice(0, problemsListedMax), problemCount: problems.length,
  };
}

/** verifyLedger: an admin of the head bank itself (the report covers every branch). */
export async function verifyLedger(bank: Bank, principal: Principal, published?: PublishedDigest, since?: PublishedDigest): Promise<VerifyReport> {
  requireRole(principal, 'admin');
  if (principal.branch.id !== principal.headId) {
    throw new BankError('FORBIDDEN', `verifyLedger covers the whole head bank; your scope is branch ${principal.branch.code}`);
  }
  return verifyHeadBank(bank, principal.headId, checkDigest('published', published), checkDigest('since', since));
}

/** A digest as given by a caller: a sequence (a whole number) and 64 hexadecimal digits. */
export function checkDigest(field: string, value: PublishedDigest | undefined): PublishedDigest | undefined {
  if (value && (!/^\d{1,18}$/.test(value.sequence) || !/^[0-9a-fA-F]{64}$/.test(value.digest))) {
    throw new BankError('BAD_USER_INPUT', `${field}: sequence must be a whole number and digest 64 hexadecimal digits`, field);
  }
  return value;
}

/** ledgerDigest: the latest sealed digest of the caller's head bank, for publishing; any role may read it. */
export async function ledgerDigest(bank: Bank, principal: Principal): Promise<LedgerDigest> {
  return readLedgerDigest(bank, principal.headId);
}
