// Selections (评选): the list of a branch subtree's selections with a form to open one, and a
// selection's page: nominate while it is open, publish the shortlist (公示), resolve objections
// (异议) with a reason, extend or withdraw, and read its history. Each action keeps one idempotency
// key for its retries and disables its button while it runs, so a double click acts once.
import { useRef, useState } from 'preact/hooks';
import type { PageProps } from './index.js';
import { gql, newKey } from '../../shared/api.js';
import { t, useLanguage, type MessageKey } from '../../shared/i18n.js';
import { formatDateTime } from '../../shared/format.js';
import { navigate } from '../../shared/router.js';
import { Alert, Button, Empty, ErrorAlert, Field, useAction } from '../../shared/ui.js';
import { BranchSelect, Filters, Loaded, PageHeader, SafeLink, Tag, useLoad, type TagKind } from '../kit.js';

type Status = 'OPEN' | 'PUBLISHED' | 'AWARDING' | 'AWARDED' | 'WITHDRAWN';
interface SelectionRow { id: string; title: string; quota: number; rule: string; status: Status; periodEndsAt: string | null; branch: { name: string }; candidates: { id: string }[] }
interface Candidate {
  id: string; status: 'NOMINATED' | 'STRUCK' | 'AWARDED'; maskedName: string; reason: string; evidenceLinks: string[];
  member: { id: string; name: string; externalId: string } | null; transaction: { id: string } | null; awardError: string | null;
}
interface Objection { id: string; candidateId: string; status: 'OPEN' | 'UPHELD' | 'DISMISSED'; reason: string; filedBy: string; filedAt: string; resolvedBy: string | null; resolutionReason: string | null }
interface Selection extends SelectionRow {
  noticeDays: number; publishedAt: string | null; extendedDays: number; candidates: Candidate[]; objections: Objection[];
  history: { act: string; actor: string; at: string; details: Record<string, unknown> }[];
}

const statusTag: Record<string, TagKind> = {
  OPEN: 'gray', PUBLISHED: 'blue', AWARDING: 'gold', AWARDED: 'green', WITHDRAWN: 'red', NOMINATED: 'blue', STRUCK: 'red', UPHELD: 'red', DISMISSED: 'green',
};

function StatusTag({ status }: { status: string }) {
  return <Tag kind={statusTag[status] ?? 'gray'}>{t(`console.selections.status.${status}` as MessageKey)}</Tag>;
}

const listQuery = `query Selections($branch: String!) { selections(branch: $branch, first: 50) {
  edges { node { id title quota rule status periodEndsAt branch { name } candidates { id } } } } }`;

const detailFields = `id title quota rule status noticeDays publishedAt periodEndsAt extendedDays branch { name }
  candidates { id status maskedName reason evidenceLinks member { id name externalId } transaction { id } awardError }
  objections { id candidateId status reason filedBy filedAt resolvedBy resolutionReason }
  history { act actor at details }`;

/** One action of a page: its key kept for retries of the same input, renewed once it succeeds. */
function useKeyedAction(prefix: string, act: (key: string) => Promise<void>) {
  const key = useRef<string | null>(null);
  return useAction(async () => {
    key.current ??= newKey(prefix);
    await act(key.current);
    key.current = null;
  });
}

function OpenForm({ branch }: { branch: string }) {
  const [title, setTitle] = useState('');
  const [quota, setQuota] = useState('3');
  const [rule, setRule] = useState('selection.courtyard');
  const [days, setDays] = useState('5');
  const [missing, setMissing] = useState<string | null>(null);
  const open = useKeyedAction('selection-open', async (idempotencyKey) => {
    const data = await gql<{ openSelection: { selection: { id: string } } }>(
      `mutation Open($input: OpenSelectionInput!) { openSelection(input: $input) { selection { id } } }`,
      { input: { idempotencyKey, branch, title: title.trim(), quota: Number(quota), rule: rule.trim(), noticeDays: Number(days) } });
    navigate(`/selections/${data.openSelection.selection.id}`);
  });
  const submit = () => {
    if (!title.trim()) { setMissing(t('common.required', { field: t('console.selections.title') })); return; }
    setMissing(null);
    void open.run();
  };
  return (
    <section class="card">
      <h2>{t('console.selections.open')}</h2>
      <form class="form-grid" onSubmit={(e) => { e.preventDefault(); submit(); }}>
        <Field label={t('console.selections.title')} name="title" class="input" value={title} maxLength={200} error={missing} placeholder="最美庭院 2026年12月"
          onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
        <Field label={t('console.selections.quota')} name="quota" class="input" type="number" min={1} max={1000} value={quota} onInput={(e) => setQuota((e.target as HTMLInputElement).value)} />
        <Field label={t('console.selections.rule')} name="rule" class="input" value={rule} onInput={(e) => setRule((e.target as HTMLInputElement).value)} />
        <Field label={t('console.selections.noticeDays')} name="noticeDays" class="input" type="number" min={1} max={60} value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
        <div><Button kind="primary" type="submit" busy={open.busy} data-testid="open-selection">{t('console.selections.open')}</Button></div>
      </form>
      <ErrorAlert error={open.error} />
    </section>
  );
}

export function SelectionsPage({ session }: PageProps) {
  useLanguage();
  const [branch, setBranch] = useState(session.operator.branch.code);
  const state = useLoad(() => gql<{ selections: { edges: { node: SelectionRow }[] } }>(listQuery, { branch }).then((d) => d.selections.edges.map((e) => e.node)), [branch]);
  return (
    <>
      <PageHeader title={t('console.menu.selections')} />
      <Filters><BranchSelect session={session} value={branch} onChange={setBranch} /></Filters>
      <Loaded state={state}>{(rows) => rows.length === 0 ? <Empty /> : (
        <section class="card">
          <table class="table" data-testid="selections-table">
            <thead><tr>
              <th>{t('console.selections.title')}</th><th>{t('console.branch')}</th><th>{t('console.selections.state')}</th>
              <th class="num">{t('console.selections.candidates')}</th><th>{t('console.selections.periodEnds')}</th>
            </tr></thead>
            <tbody>{rows.map((s) => (
              <tr key={s.id}>
                <td><a href={`#/selections/${s.id}`}>{s.title}</a></td><td>{s.branch.name}</td><td><StatusTag status={s.status} /></td>
                <td class="num">{s.candidates.length} / {s.quota}</td><td>{s.periodEndsAt ? formatDateTime(s.periodEndsAt) : '—'}</td>
              </tr>
            ))}</tbody>
          </table>
        </section>
      )}</Loaded>
      <OpenForm branch={branch} />
    </>
  );
}

function NominateForm({ selection, onDone }: { selection: Selection; onDone(s: Selection): void }) {
  const [kind, setKind] = useState<'MEMBER' | 'HOUSEHOLD'>('MEMBER');
  const [externalId, setExternalId] = useState('');
  const [reason, setReason] = useState('');
  const [link, setLink] = useState('');
  const [missing, setMissing] = useState<string | null>(null);
  const nominate = useKeyedAction('selection-nominate', async (idempotencyKey) => {
    const data = await gql<{ nominate: { selection: Selection } }>(`mutation Nominate($input: NominateInput!) { nominate(input: $input) { selection { ${detailFields} } } }`,
      { input: { idempotencyKey, selection: selection.id, [kind === 'MEMBER' ? 'externalId' : 'householdExternalId']: externalId.trim(), reason: reason.trim(),
        evidenceLinks: link.trim() ? [link.trim()] : [] } });
    setExternalId(''); setReason(''); setLink('');
    onDone(data.nominate.selection);
  });
  const submit = () => {
    const empty = !externalId.trim() ? 'console.selections.member' : !reason.trim() ? 'console.selections.reason' : null;
    if (empty) { setMissing(t('common.required', { field: t(empty) })); return; }
    setMissing(null);
    void nominate.run();
  };
  return (
    <form class="form-grid" onSubmit={(e) => { e.preventDefault(); submit(); }}>
      <div class="field">
        <label for="f-kind">{t('console.selections.kind')}</label>
        <select id="f-kind" class="input" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as 'MEMBER' | 'HOUSEHOLD')}>
          <option value="MEMBER">{t('console.selections.kind.MEMBER')}</option>
          <option value="HOUSEHOLD">{t('console.selections.kind.HOUSEHOLD')}</option>
        </select>
      </div>
      <Field label={t('console.selections.member')} name="externalId" class="input" value={externalId} error={missing} onInput={(e) => setExternalId((e.target as HTMLInputElement).value)} />
      <Field label={t('console.selections.reason')} name="nominationReason" class="input" value={reason} maxLength={500} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      <Field label={t('console.selections.evidence')} name="evidence" class="input" value={link} placeholder="https://" onInput={(e) => setLink((e.target as HTMLInputElement).value)} />
      <div><Button kind="primary" type="submit" busy={nominate.busy} data-testid="nominate">{t('console.selections.nominate')}</Button></div>
      <ErrorAlert error={nominate.error} />
    </form>
  );
}

function ObjectionItem({ objection, candidate, onDone }: { objection: Objection; candidate: Candidate | undefined; onDone(s: Selection): void }) {
  const [reason, setReason] = useState('');
  const [missing, setMissing] = useState<string | null>(null);
  const keys = useRef<Record<string, string>>({});
  const resolve = useAction(async (decision: 'UPHELD' | 'DISMISSED') => {
    if (!reason.trim()) { setMissing(t('common.required', { field: t('console.selections.resolution') })); return; }
    setMissing(null);
    const data = await gql<{ resolveObjection: { selection: Selection } }>(
      `mutation Resolve($input: ResolveObjectionInput!) { resolveObjection(input: $input) { selection { ${detailFields} } } }`,
      { input: { idempotencyKey: (keys.current[decision] ??= newKey('objection')), objection: objection.id, decision, reason: reason.trim() } });
    onDone(data.resolveObjection.selection);
  });
  return (
    <li class="card claim" data-testid="objection">
      <div><strong>{candidate ? (candidate.member?.name ?? candidate.maskedName) : objection.candidateId}</strong> · <StatusTag status={objection.status} /></div>
      <p class="evidence-text">{objection.reason}</p>
      <div class="muted">{objection.filedBy} · {formatDateTime(objection.filedAt)}</div>
      {objection.status === 'OPEN' ? (
        <div class="claim-actions">
          <div class={`field inline-field${missing ? ' field-error' : ''}`}>
            <label for={`resolution-${objection.id}`}>{t('console.selections.resolution')}</label>
            <input id={`resolution-${objection.id}`} class="input" value={reason} maxLength={500} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
            {missing && <div class="field-message">{missing}</div>}
          </div>
          <Button kind="danger" busy={resolve.busy} onClick={() => void resolve.run('UPHELD')} data-testid="uphold">{t('console.selections.uphold')}</Button>
          <Button busy={resolve.busy} onClick={() => void resolve.run('DISMISSED')} data-testid="dismiss">{t('console.selections.dismiss')}</Button>
        </div>
      ) : <div class="muted">{objection.resolvedBy}: {objection.resolutionReason}</div>}
      <ErrorAlert error={resolve.error} />
    </li>
  );
}

function ActForm({ selection, act, onDone }: { selection: Selection; act: 'extendSelection' | 'withdrawSelection'; onDone(s: Selection): void }) {
  const [reason, setReason] = useState('');
  const [days, setDays] = useState('2');
  const [missing, setMissing] = useState<string | null>(null);
  const run = useKeyedAction(act, async (idempotencyKey) => {
    const data = await gql<Record<string, { selection: Selection }>>(`mutation Act($input: SelectionActInput!) { ${act}(input: $input) { selection { ${detailFields} } } }`,
      { input: { idempotencyKey, selection: selection.id, reason: reason.trim(), ...(act === 'extendSelection' ? { days: Number(days) } : {}) } });
    setReason('');
    onDone(data[act]!.selection);
  });
  const submit = () => {
    if (!reason.trim()) { setMissing(t('common.required', { field: t('console.selections.actReason') })); return; }
    setMissing(null);
    void run.run();
  };
  return (
    <form class="form-grid" onSubmit={(e) => { e.preventDefault(); submit(); }}>
      {act === 'extendSelection' && <Field label={t('console.selections.days')} name={`${act}-days`} class="input" type="number" min={1} max={60} value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />}
      <Field label={t('console.selections.actReason')} name={`${act}-reason`} class="input" value={reason} maxLength={500} error={missing} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      <div><Button kind={act === 'withdrawSelection' ? 'danger' : 'default'} type="submit" busy={run.busy} data-testid={act}>{t(`console.selections.${act}` as MessageKey)}</Button></div>
      <ErrorAlert error={run.error} />
    </form>
  );
}

export function SelectionPage({ params }: PageProps) {
  useLanguage();
  const [fresh, setFresh] = useState<Selection | null>(null);
  const state = useLoad(() => gql<{ selection: Selection | null }>(`query Selection($id: ID!) { selection(id: $id) { ${detailFields} } }`, { id: params.id }).then((d) => d.selection), [params.id]);
  const publish = useKeyedAction('selection-publish', async (idempotencyKey) => {
    const data = await gql<{ publishSelection: { selection: Selection } }>(
      `mutation Publish($input: SelectionActInput!) { publishSelection(input: $input) { selection { ${detailFields} } } }`, { input: { idempotencyKey, selection: params.id } });
    setFresh(data.publishSelection.selection);
  });
  return (
    <Loaded state={state}>{(loaded) => {
      const s = fresh ?? loaded;
      if (!s) return <Empty />;
      const before = s.status === 'OPEN' || s.status === 'PUBLISHED';
      return (
        <>
          <PageHeader title={s.title}><StatusTag status={s.status} /></PageHeader>
          <section class="card" data-testid="selection-summary">
            <p>{s.branch.name} · <code>{s.rule}</code> · {t('console.selections.quotaOf', { count: s.candidates.filter((c) => c.status !== 'STRUCK').length, quota: s.quota })}</p>
            {s.periodEndsAt && <p>{t('console.selections.noticeUntil', { time: formatDateTime(s.periodEndsAt) })}{s.extendedDays > 0 ? ` · ${t('console.selections.extended', { days: s.extendedDays })}` : ''}</p>}
            {s.status === 'PUBLISHED' && s.objections.some((o) => o.status === 'OPEN') && <Alert kind="warning">{t('console.selections.held')}</Alert>}
            {s.status === 'OPEN' && (
              <div><Button kind="primary" busy={publish.busy} disabled={s.candidates.length === 0} onClick={() => void publish.run()} data-testid="publish">{t('console.selections.publish')}</Button></div>
            )}
            <ErrorAlert error={publish.error} />
          </section>
          <section class="card">
            <h2>{t('console.selections.candidates')}</h2>
            {s.candidates.length === 0 ? <Empty /> : (
              <table class="table" data-testid="candidates-table">
                <thead><tr><th>{t('console.selections.name')}</th><th>{t('console.selections.reason')}</th><th>{t('console.selections.state')}</th><th>{t('console.selections.award')}</th></tr></thead>
                <tbody>{s.candidates.map((c) => (
                  <tr key={c.id}>
                    <td>{c.member ? <a href={`#/members/${c.member.id}`}>{c.member.name}</a> : c.maskedName} <span class="muted">· {c.maskedName}</span></td>
                    <td>{c.reason}{c.evidenceLinks.map((l) => <div key={l}><SafeLink href={l} /></div>)}</td>
                    <td><StatusTag status={c.status} /></td>
                    <td>{c.transaction ? `#${c.transaction.id}` : c.awardError ?? '—'}</td>
                  </tr>
                ))}</tbody>
              </table>
            )}
            {s.status === 'OPEN' && <NominateForm selection={s} onDone={setFresh} />}
          </section>
          {s.objections.length > 0 && (
            <section>
              <h2>{t('console.selections.objections')}</h2>
              <ul class="claim-list">{s.objections.map((o) => <ObjectionItem key={o.id} objection={o} candidate={s.candidates.find((c) => c.id === o.candidateId)} onDone={setFresh} />)}</ul>
            </section>
          )}
          {before && (
            <section class="card">
              {s.status === 'PUBLISHED' && <><h2>{t('console.selections.extendSelection')}</h2><ActForm selection={s} act="extendSelection" onDone={setFresh} /></>}
              <h2>{t('console.selections.withdrawSelection')}</h2>
              <ActForm selection={s} act="withdrawSelection" onDone={setFresh} />
            </section>
          )}
          <section class="card">
            <h2>{t('console.selections.history')}</h2>
            <table class="table" data-testid="history-table">
              <thead><tr><th>{t('console.selections.when')}</th><th>{t('console.selections.act')}</th><th>{t('console.selections.who')}</th></tr></thead>
              <tbody>{(s.history ?? []).map((h, i) => (
                <tr key={i}><td>{formatDateTime(h.at)}</td><td>{t(`console.selections.act.${h.act}` as MessageKey)}</td><td>{h.actor}</td></tr>
              ))}</tbody>
            </table>
          </section>
        </>
      );
    }}</Loaded>
  );
}
