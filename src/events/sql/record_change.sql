-- cb_record_change: the trigger function behind every state-change event (src/events/feed.ts has the
-- catalogue): it appends the changed rows, as they are now, to event_outbox, where the feed producer
-- (src/events/produce.ts) finds them once they are committed and gives them their place in the feed.
-- Not on the award's path: only vouchers, claims, pools, score years and members have these triggers.
-- TG_ARGV[0] is the event type; TG_ARGV[1] says where the event's branch comes from: 'own' (the
-- row's branch_id) or 'member' (the branch of the row's member: a voucher counts where its member is).
-- Statement-level for INSERT (one INSERT per statement, however many rows: a bulk member import adds
-- one), row-level with a WHEN for UPDATE (only the rows whose status moved).
--
-- The triggers are created here, beside their function, rather than in a versioned migration: the
-- migrations run before the definition files, so a migration could not create a trigger on a
-- function that does not exist yet on a new database. CREATE OR REPLACE TRIGGER keeps a rerun harmless.

CREATE OR REPLACE FUNCTION cb_record_change()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    INSERT INTO event_outbox (head_id, type, branch_id, occurred_at, row)
    SELECT n.head_id, TG_ARGV[0],
           CASE TG_ARGV[1] WHEN 'member' THEN (SELECT m.branch_id FROM members m WHERE m.head_id = n.head_id AND m.id = (to_jsonb(n) ->> 'member_id')::bigint)
                           ELSE (to_jsonb(n) ->> 'branch_id')::bigint END,
           clock_timestamp(), to_jsonb(n)
      FROM new_rows n ORDER BY n.head_id, (to_jsonb(n) ->> 'id')::bigint;
  ELSE
    INSERT INTO event_outbox (head_id, type, branch_id, occurred_at, row)
    VALUES (NEW.head_id, TG_ARGV[0],
            CASE TG_ARGV[1] WHEN 'member' THEN (SELECT m.branch_id FROM members m WHERE m.head_id = NEW.head_id AND m.id = (to_jsonb(NEW) ->> 'member_id')::bigint)
                            ELSE (to_jsonb(NEW) ->> 'branch_id')::bigint END,
            clock_timestamp(), to_jsonb(NEW));
  END IF;
  RETURN NULL;
END
$fn$;

-- Vouchers: issued (PENDING), then each move of status.
CREATE OR REPLACE TRIGGER redemptions_event_issued AFTER INSERT ON redemptions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cb_record_change('voucher.status_changed', 'member');
CREATE OR REPLACE TRIGGER redemptions_event_status AFTER UPDATE OF status ON redemptions
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION cb_record_change('voucher.status_changed', 'member');

-- Claims: submitted, then decided once (PENDING → APPROVED or REJECTED).
CREATE OR REPLACE TRIGGER claims_event_submitted AFTER INSERT ON claims
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cb_record_change('claim.submitted', 'own');
CREATE OR REPLACE TRIGGER claims_event_decided AFTER UPDATE OF status ON claims
  FOR EACH ROW WHEN (OLD.status = 'PENDING' AND NEW.status <> 'PENDING') EXECUTE FUNCTION cb_record_change('claim.decided', 'own');

-- Pools: opened (OPEN), then each move of status (FUNDED, DISBURSED, CLOSED).
CREATE OR REPLACE TRIGGER pools_event_opened AFTER INSERT ON pools
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cb_record_change('pool.status_changed', 'own');
CREATE OR REPLACE TRIGGER pools_event_status AFTER UPDATE OF status ON pools
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION cb_record_change('pool.status_changed', 'own');

-- Score years: closed (a new record), reopened (the record's reopened_at filled once).
CREATE OR REPLACE TRIGGER score_year_closures_event_closed AFTER INSERT ON score_year_closures
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cb_record_change('score_year.closed', 'own');
CREATE OR REPLACE TRIGGER score_year_closures_event_reopened AFTER UPDATE OF reopened_at ON score_year_closures
  FOR EACH ROW WHEN (OLD.reopened_at IS NULL AND NEW.reopened_at IS NOT NULL) EXECUTE FUNCTION cb_record_change('score_year.reopened', 'own');

-- Members: created, and moved to another branch.
CREATE OR REPLACE TRIGGER members_event_created AFTER INSERT ON members
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cb_record_change('member.created', 'own');
CREATE OR REPLACE TRIGGER members_event_moved AFTER UPDATE OF branch_id ON members
  FOR EACH ROW WHEN (OLD.branch_id IS DISTINCT FROM NEW.branch_id) EXECUTE FUNCTION cb_record_change('member.moved', 'own');
