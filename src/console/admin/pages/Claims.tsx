// The claims queue (待审核): pending claims of a branch subtree in scope, oldest first, with their
// evidence. Approve, or reject with a reason, each in one action: one idempotency key per action
// (kept for its retries), the row's buttons disabled while it runs, so a double click posts once.
import { useRef, useState } from 'preact/hooks';
import type { PageProps } from './index.js';
import { gql, newKey } from '../../shared/api.js';
import { t, useLanguage } from '../../shared/i18n.js';
import { formatAmount, formatDateTime } from '../../shared/format.js';
import { Alert, Button, Empty, ErrorAlert, useAction } from '../../shared/ui.js';
import { BranchSelect, Filters, Loaded, PageHeader, SafeLink, useLoad } from '../kit.js';

interface ClaimRow {
  id: string; rule: string; quantity: string; occurredAt: string; submittedAt: string; submittedBy: string;
  evidenceText: string | null; evidenceLinks: string[];
  member: { id: string; name: string; externalId: string; branch: { name: string } } | null;
}

/** Claims read per page of the queue: a morning's work for one branch. */
const queuePageSize = 50;

const claimsQuery = `query ClaimsQueue($branch: String!, $first: Int!, $after: String) {
  claims(branch: $branch, status: PENDING, first: $first, after: $after) {
    edges { node { id rule quantity occurredAt submittedAt submittedBy evidenceText evidenceLinks member { id name externalId branch { name } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const decideFields = 'claim { id status reason transaction { id } }';

interface Decided { claim: ClaimRow; approved: boolean }

function ClaimItem({ claim, onDecided }: { claim: ClaimRow; onDecided(d: Decided): void }) {
  const [reason, setReason] = useState('');
  const [reasonError, setReasonError] = useState<string | null>(null);
  // One key per action, reused if the same action is retried after a network failure.
  const keys = useRef<{ approve?: string; reject?: string }>({});
  const action = useAction(async (approve: boolean) => {
    const kind = approve ? 'approve' : 'reject';
    const key = (keys.current[kind] ??= newKey(`claim-${kind}`));
    const mutation = approve
      ? `mutation Approve($input: DecideClaimInput!) { approveClaim(input: $input) { ${decideFields} } }`
      : `mutation Reject($input: DecideClaimInput!) { rejectClaim(input: $input) { ${decideFields} } }`;
    await gql(mutation, { input: { idempotencyKey: key, claim: claim.id, ...(approve ? {} : { reason: reason.trim() }) } });
    onDecided({ claim, approved: approve });
  });
  const reject = () => {
    if (!reason.trim()) {
      setReasonError(t('common.required', { field: t('console.claims.reason') }));
      return;
    }
    setReasonError(null);
    void action.run(false);
  };
  const reasonId = `reason-${claim.id}`;
  return (
    <li class="card claim" data-testid="claim" data-claim-id={claim.id}>
      <div class="claim-head">
        <div>
          <h2 class="claim-member">
            {claim.member ? <a href={`#/members/${claim.member.id}`}>{claim.member.name}</a> : t('console.claims.memberHidden')}
            {claim.member && <span class="muted"> · {claim.member.externalId} · {claim.member.branch.name}</span>}
          </h2>
          <div class="muted">
            <code>{claim.rule}</code> × {formatAmount(claim.quantity)} · {t('console.claims.occurredAt')} {formatDateTime(claim.occurredAt)} · {t('console.claims.submittedAt')} {formatDateTime(claim.submittedAt)}
          </div>
        </div>
      </div>
      <div class="claim-evidence">
        <h3>{t('console.claims.evidence')}</h3>
        {claim.evidenceText ? <p class="evidence-text">{claim.evidenceText}</p> : <p class="muted">{t('console.claims.noEvidenceText')}</p>}
        {claim.evidenceLinks.length > 0 && <ul class="evidence-links">{claim.evidenceLinks.map((link, i) => <li key={i}><SafeLink href={link} /></li>)}</ul>}
      </div>
      <ErrorAlert error={action.error} />
      <div class="claim-actions">
        <Button kind="primary" busy={action.busy} onClick={() => void action.run(true)} data-testid="approve">{t('console.claims.approve')}</Button>
        <div class={`field inline-field${reasonError ? ' field-error' : ''}`}>
          <label for={reasonId}>{t('console.claims.reason')}</label>
          <input id={reasonId} class="input" value={reason} maxLength={500} aria-invalid={reasonError ? 'true' : undefined} aria-describedby={reasonError ? `${reasonId}-error` : undefined}
            onInput={(e) => setReason((e.target as HTMLInputElement).value)} onKeyDown={(e) => { if (e.key === 'Enter') reject(); }} />
          {reasonError && <div class="field-message" id={`${reasonId}-error`}>{reasonError}</div>}
        </div>
        <Button kind="danger" busy={action.busy} onClick={reject} data-testid="reject">{t('console.claims.reject')}</Button>
      </div>
    </li>
  );
}

export function ClaimsPage({ session }: PageProps) {
  useLanguage();
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [after, setAfter] = useState<string | null>(null);
  const [decided, setDecided] = useState<Decided[]>([]);
  const state = useLoad(() => gql<{ claims: { edges: { node: ClaimRow }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>(
    claimsQuery, { branch, first: queuePageSize, after }).then((d) => d.claims), [branch, after]);
  const gone = new Set(decided.map((d) => d.claim.id));
  const last = decided[decided.length - 1];
  return (
    <>
      <PageHeader title={t('console.menu.claims')} />
      <Filters>
        <BranchSelect session={session} value={branch} onChange={(b) => { setBranch(b); setAfter(null); }} />
      </Filters>
      {last && (
        <Alert kind="success" testId="claim-decided">
          {t(last.approved ? 'console.claims.approved' : 'console.claims.rejected', { name: last.claim.member?.name ?? last.claim.id, rule: last.claim.rule })}
        </Alert>
      )}
      <Loaded state={state}>{(page) => {
        const rows = page.edges.map((e) => e.node).filter((c) => !gone.has(c.id));
        return (
          <>
            <p class="muted">{t('console.claims.oldestFirst')}</p>
            {rows.length === 0 ? <Empty /> : (
              <ul class="claim-list">{rows.map((c) => <ClaimItem key={c.id} claim={c} onDecided={(d) => setDecided((list) => [...list, d])} />)}</ul>
            )}
            {page.pageInfo.hasNextPage && <Button onClick={() => setAfter(page.pageInfo.endCursor)}>{t('console.claims.nextPage')}</Button>}
          </>
        );
      }}</Loaded>
    </>
  );
}
