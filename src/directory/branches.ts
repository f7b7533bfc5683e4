// The branch tree (总行 head bank → 分行 branches → further levels). Branches never change once
// created, so each process caches them forever. Creating a branch also opens its system accounts
// (issuance, penalty, expiry, adjustment for every asset), so that the write path only reads them.
import { checkName } from '../inputChecks.js';
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { BankError, badInput } from '../errors.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';

export interface Branch {
  id: string;
  headId: string;
  parentId: string | null;
  code: string;
  name: string;
  /** Ids from the head bank down to this branch, '/1/5/12/': a scope is a path prefix. */
  path: string;
  depth: number;
  timeZone: string;
  allowGifting: boolean;
  createdAt: Date;
}

const systemPurposes = ['ISSUANCE', 'PENALTY', 'EXPIRY', 'ADJUSTMENT'] as const;
/** Deep enough for town → village → grid → party group and then some. */
export const branchDepthMax = 16;
const branchCode = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function toBranch(r: Record<string, any>): Branch {
  return {
    id: String(r.id), headId: String(r.head_id), parentId: r.parent_id === null ? null : String(r.parent_id),
    code: r.code, name: r.name, path: r.path, depth: r.depth, timeZone: r.time_zone,
    allowGifting: r.allow_gifting, createdAt: r.created_at,
  };
}

export class BranchDirectory {
  private readonly byId = new Map<string, Branch>();
  private readonly byCode = new Map<string, Branch>();

  constructor(private readonly knex: Knex) {}

  remember(branch: Branch): Branch {
    this.byId.set(branch.id, branch);
    this.byCode.set(branch.code, branch);
    return branch;
  }

  async byIdOrNull(id: string): Promise<Branch | null> {
    const cached = this.byId.get(id);
    if (cached) return cached;
    if (!/^\d{1,18}$/.test(id)) return null;
    const row = await this.knex('branches').where({ id }).first();
    return row ? this.remember(toBranch(row)) : null;
  }

  async byCodeOrNull(code: string): Promise<Branch | null> {
    const cached = this.byCode.get(code);
    if (cached) return cached;
    const row = await this.knex('branches').where({ code }).first();
    return row ? this.remember(toBranch(row)) : null;
  }

  async require(code: string, field = 'branch'): Promise<Branch> {
    const branch = await this.byCodeOrNull(code);
    if (!branch) throw new BankError('NOT_FOUND', `${field}: no branch with code "${code}"`, field);
    return branch;
  }

  async requireById(id: string, field = 'branch'): Promise<Branch> {
    const branch = await this.byIdOrNull(id);
    if (!branch) throw new BankError('NOT_FOUND', `${field}: no branch with id ${id}`, field);
    return branch;
  }

  /** Every branch of a subtree, root first (read from the database: new branches appear at once). */
  async subtree(root: Branch): Promise<Branch[]> {
    const rows = await this.knex('branches').whereLike('path', `${root.path}%`).orderBy(['depth', 'id']);
    return rows.map((r) => this.remember(toBranch(r)));
  }

  async children(parent: Branch): Promise<Branch[]> {
    const rows = await this.knex('branches').where({ parent_id: parent.id }).orderBy('id');
    return rows.map((r) => this.remember(toBranch(r)));
  }
}

export function isWithin(branch: Branch, scope: Branch): boolean {
  return branch.path.startsWith(scope.path);
}

export interface NewBranch {
  code: string;
  name: string;
  allowGifting?: boolean;
  timeZone?: string;
}

/** Checks a new branch, and normalises its name by the identifier rule (inputChecks.ts). */
function validateNewBranch(input: NewBranch): void {
  if (!branchCode.test(input.code)) throw badInput('code', 'letters, digits, ".", "_" or "-", 1 to 64 characters, starting with a letter or digit');
  input.name = checkName('name', input.name, 200)!;
}

/** Opens the system accounts of a new branch, one per purpose and asset. */
async function openSystemAccounts(trx: Knex.Transaction, headId: string, branchId: string): Promise<void> {
  const assets = await trx('assets').select('code', 'scale');
  await trx('accounts').insert(assets.flatMap((asset) => systemPurposes.map((purpose) => ({
    head_id: headId, branch_id: branchId, owner_type: 'SYSTEM', owner_id: branchId, purpose,
    asset_code: asset.code, asset_scale: asset.scale, allow_negative: true, deferred_balance: true,
  }))));
}

/** A new head bank (总行): the root of a tree. Done by seeding and operators, not over the API. */
export async function createHeadBank(bank: Bank, input: NewBranch, trx?: Knex.Transaction): Promise<Branch> {
  validateNewBranch(input);
  const timeZone = input.timeZone ?? bank.config.defaultTimeZone;
  const work = async (t: Knex.Transaction) => {
    const { rows } = await t.raw(`SELECT nextval('branches_id_seq')::text AS id`);
    const id = rows[0].id as string;
    const [row] = await t('branches').insert({
      id, head_id: id, parent_id: null, code: input.code, name: input.name, path: `/${id}/`, depth: 0,
      time_zone: timeZone, allow_gifting: input.allowGifting ?? false,
    }).returning('*');
    await openSystemAccounts(t, id, id);
    return toBranch(row);
  };
  const branch = trx ? await work(trx) : await bank.knex.transaction(work);
  return bank.branches.remember(branch);
}

/** A child branch under parent, inheriting the time zone and (unless given) the gifting policy. */
export async function insertChildBranch(trx: Knex.Transaction, parent: Branch, input: NewBranch): Promise<Branch> {
  validateNewBranch(input);
  if (parent.depth + 1 >= branchDepthMax) throw badInput('parent', `branches nest at most ${branchDepthMax} levels deep`);
  const { rows } = await trx.raw(`SELECT nextval('branches_id_seq')::text AS id`);
  const id = rows[0].id as string;
  const [row] = await trx('branches').insert({
    id, head_id: parent.headId, parent_id: parent.id, code: input.code, name: input.name,
    path: `${parent.path}${id}/`, depth: parent.depth + 1, time_zone: parent.timeZone,
    allow_gifting: input.allowGifting ?? parent.allowGifting,
  }).returning('*');
  await openSystemAccounts(trx, parent.headId, id);
  return toBranch(row);
}

/** A subtree listed at once: a town has a few dozen villages and communities, each a few grids. */
export const subtreeListMax = 2000;

/**
 * The branches of a subtree in tree order (each parent before its children), for choosing a branch:
 * the caller's scope by default, or a branch inside it. Refused past subtreeListMax rather than cut.
 */
export async function listSubtree(bank: Bank, principal: Principal, under: string | null | undefined): Promise<Branch[]> {
  requireRole(principal, 'admin', 'client');
  const root = under ? await bank.branches.require(under, 'under') : principal.branch;
  requireScope(principal, root, 'branch');
  const branches = await bank.branches.subtree(root);
  if (branches.length > subtreeListMax) {
    throw new BankError('LIMIT_EXCEEDED', `the subtree has ${branches.length} branches, more than ${subtreeListMax}; ask for a branch further down (under)`);
  }
  return branches.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
