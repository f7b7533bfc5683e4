// The public notice board (公示栏, issue 12 §4) is opt-in per branch: an admin switches it on for a
// branch, and a board shows only branches that did (src/reports/noticeBoard.ts). The flag lives on
// the branch with who last changed it and when. The partial index finds a head bank's opted-in
// branches without reading the others (a board reads it on every cache miss).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- A column with a constant default is added without rewriting the table.
    ALTER TABLE branches
      ADD COLUMN notice_board boolean NOT NULL DEFAULT false,
      ADD COLUMN notice_board_changed_by text,
      ADD COLUMN notice_board_changed_at timestamptz,
      ADD CONSTRAINT branches_notice_board_changed_by_check CHECK (length(notice_board_changed_by) <= 200);
    CREATE INDEX branches_notice_board ON branches (head_id) WHERE notice_board;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS branches_notice_board;
    ALTER TABLE branches DROP COLUMN IF EXISTS notice_board, DROP COLUMN IF EXISTS notice_board_changed_by, DROP COLUMN IF EXISTS notice_board_changed_at;
  `);
}
