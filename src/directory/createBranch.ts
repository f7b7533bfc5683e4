// createBranch: an admin adds a branch (分行, or a further level) under a branch in its scope.
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import { withRetry } from '../db/errors.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { insertChildBranch, type Branch } from './branches.js';

export interface CreateBranchInput {
  idempotencyKey: string;
  parent: string;
  code: string;
  name: string;
  allowGifting?: boolean | null;
}

export async function createBranch(bank: Bank, principal: Principal, input: CreateBranchInput): Promise<{ branch: Branch; replayed: boolean }> {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const parent = await bank.branches.require(input.parent, 'parent');
  requireScope(principal, parent, 'parent branch');
  const hash = requestHash('createBranch', { parent: parent.code, code: input.code, name: input.name, allowGifting: input.allowGifting ?? null });
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    runIdempotent(trx, principal, key, 'createBranch', hash, async () => {
      const branch = await insertChildBranch(trx, parent, { code: input.code, name: input.name, allowGifting: input.allowGifting ?? undefined });
      return { id: branch.id };
    })));
  return { branch: await bank.branches.requireById(String(result.id)), replayed };
}
