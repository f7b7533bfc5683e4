// The rollup rows a report reads. For a branch, they are probed member by member (the rollups'
// primary key leads with the member): a 5,000-member branch reads its own rows, not a scan of the
// head bank's period filtered down (measured: 1,000 rows read instead of 200,000, ~700 ms → a few ms
// at 2 M postings). For a whole head bank, one scan of the period is cheaper than a million probes.
// Bindings: head, branches (bigint[]; null for the whole head bank).

/** Rows of member_rollups r matching `where`, for the report's members (`members` selects their ids as id). */
export function scopedRollups(wholeBank: boolean, where: string, members = inBranches): string {
  return wholeBank
    ? `SELECT r.* FROM member_rollups r WHERE r.head_id = :head AND ${where}`
    : `SELECT r.* FROM (${members}) s CROSS JOIN LATERAL (
         SELECT r.* FROM member_rollups r WHERE r.head_id = :head AND r.member_id = s.id AND ${where} OFFSET 0) r`;
}

/** The members of the report's branches. */
export const inBranches = `SELECT m.id FROM members m WHERE m.head_id = :head AND m.branch_id = ANY (:branches::bigint[])`;
