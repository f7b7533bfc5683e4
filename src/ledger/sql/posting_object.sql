-- cb_posting_object: a posting as the API reads it (transactions(), and every write's answer).
-- Amounts leave as strings (exact decimals on the wire).

CREATE OR REPLACE FUNCTION cb_posting_object(p postings)
RETURNS jsonb LANGUAGE sql STABLE AS $fn$
  SELECT jsonb_build_object('line', p.line, 'accountId', p.account_id::text, 'asset', p.asset_code,
                            'amount', p.amount::text, 'balanceAfter', p.balance_after::text)
$fn$;
