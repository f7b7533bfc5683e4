// The assets the bank counts (POINTS, PARTY_SCORE, VOLUNTEER_HOURS), read once at start.
import type { Knex } from 'knex';
import { BankError } from '../errors.js';

export interface Asset {
  code: string;
  scale: number;
  spendable: boolean;
  transferable: boolean;
  memberMayGoNegative: boolean;
}

export class AssetRegistry {
  private constructor(private readonly byCode: ReadonlyMap<string, Asset>) {}

  static async load(knex: Knex): Promise<AssetRegistry> {
    const rows = await knex('assets').select('*').orderBy('code');
    return new AssetRegistry(new Map(rows.map((r) => [r.code, {
      code: r.code, scale: r.scale, spendable: r.spendable, transferable: r.transferable,
      memberMayGoNegative: r.member_may_go_negative,
    }])));
  }

  all(): Asset[] { return [...this.byCode.values()]; }

  get(code: string, field = 'asset'): Asset {
    const asset = this.byCode.get(code);
    if (!asset) {
      throw new BankError('BAD_USER_INPUT', `${field}: unknown asset "${code}"; known: ${[...this.byCode.keys()].join(', ')}`, field);
    }
    return asset;
  }
}
