// The members list of the console (issue 12 §2): the members of a branch subtree in an admin's
// scope, optionally those whose name contains a text or whose externalId equals or starts with it,
// in id order, a page at a time. Scoped exactly as every admin read: a branch outside the token's
// subtree is FORBIDDEN, and nothing outside the branch asked for is ever listed.
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import { badInput } from '../errors.js';
import { checkPageSize } from '../ledger/transactions.js';
import { decodePageCursor } from '../pagination.js';
import { toMember, type Member } from './members.js';

/** A search text longer than any name or externalId can match nothing: refused rather than scanned for. */
export const memberSearchLengthMax = 200;

export interface MemberSearchArgs { branch?: string | null; search?: string | null; first?: number | null; after?: string | null }

/**
 * One page (and one row more, to tell whether another follows). A name matches by substring, case
 * insensitive (strpos: no LIKE wildcards to escape); an externalId exactly or by prefix. A branch
 * reads its subtree's members through members_branch; an admin of the head bank all of the bank's.
 */
export async function searchMembers(bank: Bank, principal: Principal, args: MemberSearchArgs): Promise<{ items: Member[]; hasNextPage: boolean }> {
  requireRole(principal, 'admin');
  const size = checkPageSize(args.first);
  const afterId = decodePageCursor('m', args.after);
  const branch = args.branch ? await bank.branches.require(args.branch) : principal.branch;
  requireScope(principal, branch, `branch ${branch.code}`);
  const search = args.search?.trim() ?? '';
  if (search.length > memberSearchLengthMax) throw badInput('search', `at most ${memberSearchLengthMax} characters`);
  const q = bank.knex('members as m').where('m.head_id', branch.headId);
  if (branch.parentId !== null) q.whereIn('m.branch_id', (await bank.branches.subtree(branch)).map((b) => b.id));
  if (search) q.andWhere((w) => w.whereRaw('strpos(lower(m.name), lower(?)) > 0', [search]).orWhereRaw('starts_with(m.external_id, ?)', [search]));
  if (afterId) q.andWhere('m.id', '>', afterId);
  const rows = await q.orderBy('m.id').limit(size + 1).select('m.*');
  return { items: rows.slice(0, size).map(toMember), hasNextPage: rows.length > size };
}
