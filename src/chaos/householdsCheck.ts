// What must hold of households (户) after a run under faults:
// - every household wallet's balance and held amount equal its postings (POSTED sums; PENDING debits
//   held), and none is below zero available;
// - a posting on a household wallet belongs to a transaction that names that household, and a
//   transaction that names a household posts on its wallet;
// - an award under a HOUSEHOLD rule credits a household wallet, never a member's;
// - the membership history: at most one open stay per member, a closed stay ends no earlier than it
//   began, and one member's stays never overlap;
// - a spend from a household wallet (redemption, donation) was made by a member who had an adult stay
//   in that household. (Refused spends, by minors, non-heads where only the head may spend, members
//   in no household, wrote nothing: checks.ts holds every refused key absent.)
import type { Bank } from '../bank.js';

export interface HouseholdsCheck { violations: string[]; figures: string }

export async function checkHouseholds(bank: Bank, headId: string): Promise<HouseholdsCheck> {
  const violations: string[] = [];
  const say = (rows: any[], sentence: (r: any) => string) => violations.push(...rows.map(sentence));

  const { rows: wallets } = await bank.knex.raw(`
    WITH sums AS (
      SELECT p.account_id, coalesce(sum(p.amount) FILTER (WHERE t.status = 'POSTED'), 0) AS posted,
             coalesce(-sum(p.amount) FILTER (WHERE t.status = 'PENDING' AND p.amount < 0), 0) AS pending_debits
        FROM postings p JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
        JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'HOUSEHOLD'
       WHERE p.head_id = :head GROUP BY p.account_id)
    SELECT a.id::text AS id, a.owner_id::text AS household, a.balance::text AS balance, a.held::text AS held,
           coalesce(s.posted, 0)::text AS posted, coalesce(s.pending_debits, 0)::text AS pending
      FROM accounts a LEFT JOIN sums s ON s.account_id = a.id
     WHERE a.head_id = :head AND a.owner_type = 'HOUSEHOLD'
       AND (a.balance <> coalesce(s.posted, 0) OR a.held <> coalesce(s.pending_debits, 0) OR a.balance - a.held < 0
            OR NOT EXISTS (SELECT 1 FROM households h WHERE h.head_id = a.head_id AND h.id = a.owner_id))`, { head: headId });
  say(wallets, (w) => `household ${w.household}'s wallet ${w.id} holds ${w.balance} (held ${w.held}); its postings say ${w.posted} (held ${w.pending})`);

  const { rows: strays } = await bank.knex.raw(`
    SELECT t.id::text AS id, t.household_id::text AS named, string_agg(DISTINCT a.owner_id::text, ',') AS posted_to
      FROM transactions t JOIN postings p ON p.head_id = t.head_id AND p.transaction_id = t.id
      JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id
     WHERE t.head_id = ? AND (t.household_id IS NOT NULL OR a.owner_type = 'HOUSEHOLD')
     GROUP BY t.id, t.household_id
    HAVING t.household_id IS NULL
        OR NOT bool_or(a.owner_type = 'HOUSEHOLD' AND a.owner_id = t.household_id)
        OR bool_or(a.owner_type = 'HOUSEHOLD' AND a.owner_id <> t.household_id)`, [headId]);
  say(strays, (t) => `transaction ${t.id} names household ${t.named ?? 'none'} but posts on the wallets of households ${t.posted_to ?? 'none'}`);

  const { rows: memberCredited } = await bank.knex.raw(`
    SELECT t.id::text AS id FROM transactions t JOIN rules r ON r.head_id = t.head_id AND r.id = t.rule_id
     WHERE t.head_id = ? AND t.kind = 'EARN' AND r.beneficiary = 'HOUSEHOLD'
       AND (t.household_id IS NULL OR EXISTS (SELECT 1 FROM postings p JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id
                                              WHERE p.head_id = t.head_id AND p.transaction_id = t.id AND a.owner_type = 'MEMBER'))`, [headId]);
  say(memberCredited, (t) => `award ${t.id} under a HOUSEHOLD rule credits a member's wallet or no household`);

  const { rows: stays } = await bank.knex.raw(`
    SELECT member_id::text AS member, count(*) FILTER (WHERE left_at IS NULL)::int AS open,
           count(*) FILTER (WHERE left_at < joined_at)::int AS backwards,
           count(*) FILTER (WHERE next_joined < coalesce(left_at, 'infinity'))::int AS overlapping, count(*)::int AS stays
      FROM (SELECT hm.*, lead(joined_at) OVER (PARTITION BY member_id ORDER BY joined_at, id) AS next_joined
              FROM household_members hm WHERE hm.head_id = ?) s
     GROUP BY member_id`, [headId]);
  say(stays.filter((s: any) => s.open > 1 || s.backwards || s.overlapping),
    (s) => `member ${s.member} has ${s.open} open household stays, ${s.backwards} ending before they began, ${s.overlapping} overlapping the next`);

  const { rows: spends } = await bank.knex.raw(`
    SELECT 'redemption' AS kind, r.id::text AS id, r.member_id::text AS member, r.household_id::text AS household
      FROM redemptions r WHERE r.head_id = :head AND r.household_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM household_members hm WHERE hm.head_id = r.head_id AND hm.member_id = r.member_id AND hm.household_id = r.household_id AND hm.adult)
    UNION ALL
    SELECT 'donation', d.transaction_id::text, d.member_id::text, d.household_id::text
      FROM pool_donations d WHERE d.head_id = :head AND d.household_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM household_members hm WHERE hm.head_id = d.head_id AND hm.member_id = d.member_id AND hm.household_id = d.household_id AND hm.adult)`,
  { head: headId });
  say(spends, (s) => `${s.kind} ${s.id} spent household ${s.household}'s wallet by member ${s.member}, never an adult of it`);

  const { rows: [c] } = await bank.knex.raw(`
    SELECT (SELECT count(*) FROM households WHERE head_id = :head)::int AS households,
           (SELECT count(*) FROM household_members WHERE head_id = :head)::int AS stays,
           (SELECT count(*) FROM household_members WHERE head_id = :head AND left_at IS NOT NULL)::int AS closed,
           (SELECT count(*) FROM transactions t JOIN rules r ON r.head_id = t.head_id AND r.id = t.rule_id
             WHERE t.head_id = :head AND t.kind = 'EARN' AND r.beneficiary = 'HOUSEHOLD')::int AS awards,
           (SELECT count(*) FROM redemptions WHERE head_id = :head AND household_id IS NOT NULL)::int AS redemptions,
           (SELECT count(*) FROM pool_donations WHERE head_id = :head AND household_id IS NOT NULL)::int AS donations,
           (SELECT coalesce(sum(balance), 0) FROM accounts WHERE head_id = :head AND owner_type = 'HOUSEHOLD')::text AS balance`, { head: headId });
  const figures = `${c.households} households, ${c.stays} stays (${c.closed} closed by moves, leaving or a changed adult flag), `
    + `${c.awards} household awards, ${c.redemptions} redemptions and ${c.donations} donations from household wallets, which hold ${c.balance} in all`;
  return { violations, figures };
}
