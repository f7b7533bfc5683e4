// Members (储户): search a branch subtree in scope by name or external id, register a resident or
// move one to another branch (upsertMember, idempotent by externalId), and a member's page with its
// wallets (balance, held, available) and the statement of a period (Member.statement).
import { useRef, useState } from 'preact/hooks';
import type { PageProps } from './index.js';
import { downloadWithToken, gql, newKey } from '../../shared/api.js';
import { t, useLanguage } from '../../shared/i18n.js';
import { formatAmount, formatDate } from '../../shared/format.js';
import { Alert, Button, Empty, ErrorAlert, Field, useAction } from '../../shared/ui.js';
import { BranchSelect, Filters, Loaded, PageHeader, Tag, label, useLoad, useScopeBranches } from '../kit.js';
import { StatementPeriodForm, StatementTables, statementFields, useStatementPeriod, type Statement } from '../statement.js';

interface MemberRow { id: string; externalId: string; name: string; isPartyMember: boolean; isVolunteer: boolean; createdAt: string; branch: { code: string; name: string } }

/** Members listed per page of a search. */
const membersPageSize = 20;
/** The API's own bound on names and external ids (members table). */
const nameLengthMax = 100;

const membersQuery = `query Members($branch: String!, $search: String, $first: Int!, $after: String) {
  members(branch: $branch, search: $search, first: $first, after: $after) {
    edges { node { id externalId name isPartyMember isVolunteer createdAt branch { code name } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

function MemberFlags({ member }: { member: { isPartyMember: boolean; isVolunteer: boolean } }) {
  return <>{member.isPartyMember && <Tag kind="red">{t('console.members.party')}</Tag>}{member.isVolunteer && <Tag kind="blue">{t('console.members.volunteer')}</Tag>}</>;
}

/** Register a resident, or (same external id) update one and move it to another branch. */
function MemberForm({ session, initial, onSaved }: { session: PageProps['session']; initial?: MemberRow; onSaved(m: MemberRow, created: boolean): void }) {
  const branches = useScopeBranches(session);
  const [externalId, setExternalId] = useState(initial?.externalId ?? '');
  const [name, setName] = useState(initial?.name ?? '');
  const [branch, setBranch] = useState(initial?.branch.code ?? session.operator.branch.code);
  const [party, setParty] = useState(initial?.isPartyMember ?? false);
  const [volunteer, setVolunteer] = useState(initial?.isVolunteer ?? false);
  const [errors, setErrors] = useState<{ externalId?: string; name?: string }>({});
  const key = useRef<{ value: string; for: string } | null>(null);
  const save = useAction(async () => {
    const input = { externalId: externalId.trim(), name: name.trim(), branch, isPartyMember: party, isVolunteer: volunteer };
    // The same request retried keeps its key; a changed form is a new action with a new key.
    const signature = JSON.stringify(input);
    if (!key.current || key.current.for !== signature) key.current = { value: newKey('member'), for: signature };
    const data = await gql<{ upsertMember: { member: MemberRow; created: boolean } }>(
      `mutation Upsert($input: UpsertMemberInput!) { upsertMember(input: $input) { created member { id externalId name isPartyMember isVolunteer createdAt branch { code name } } } }`,
      { input: { idempotencyKey: key.current.value, ...input } });
    key.current = null;
    onSaved(data.upsertMember.member, data.upsertMember.created);
  });
  const submit = (e: Event) => {
    e.preventDefault();
    const next: typeof errors = {};
    if (!externalId.trim()) next.externalId = t('common.required', { field: t('console.members.externalId') });
    if (!name.trim()) next.name = t('common.required', { field: t('console.members.name') });
    setErrors(next);
    if (next.externalId || next.name) return;
    void save.run();
  };
  return (
    <form class="form-grid" onSubmit={submit} noValidate data-testid="member-form">
      <Field label={t('console.members.externalId')} name={`m-external-${initial?.id ?? 'new'}`} value={externalId} maxLength={nameLengthMax} readOnly={Boolean(initial)}
        error={errors.externalId} hint={initial ? t('console.members.externalIdFixed') : t('console.members.externalIdHint')} onInput={(e) => setExternalId((e.target as HTMLInputElement).value)} />
      <Field label={t('console.members.name')} name={`m-name-${initial?.id ?? 'new'}`} value={name} maxLength={nameLengthMax} error={errors.name}
        onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      <div class="field">
        <label for={`m-branch-${initial?.id ?? 'new'}`}>{t('console.branch')}</label>
        <select id={`m-branch-${initial?.id ?? 'new'}`} value={branch} onChange={(e) => setBranch((e.target as HTMLSelectElement).value)}>
          {branches.map((b) => <option key={b.code} value={b.code}>{`${'\u3000'.repeat(b.depth)}${b.name}`}</option>)}
        </select>
      </div>
      <div class="field checks">
        <label class="check"><input type="checkbox" checked={party} onChange={(e) => setParty((e.target as HTMLInputElement).checked)} /> {t('console.members.party')}</label>
        <label class="check"><input type="checkbox" checked={volunteer} onChange={(e) => setVolunteer((e.target as HTMLInputElement).checked)} /> {t('console.members.volunteer')}</label>
      </div>
      <ErrorAlert error={save.error} />
      <div class="form-actions"><Button kind="primary" type="submit" busy={save.busy}>{initial ? t('console.members.saveMove') : t('console.members.register')}</Button></div>
    </form>
  );
}

export function MembersPage({ session }: PageProps) {
  useLanguage();
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [text, setText] = useState('');
  const [search, setSearch] = useState('');
  const [after, setAfter] = useState<string | null>(null);
  const [showForm, setShowForm] = useState(false);
  const [saved, setSaved] = useState<{ member: MemberRow; created: boolean } | null>(null);
  const state = useLoad(() => gql<{ members: { edges: { node: MemberRow }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>(
    membersQuery, { branch, search: search || null, first: membersPageSize, after }).then((d) => d.members), [branch, search, after]);
  return (
    <>
      <PageHeader title={t('console.menu.members')}>
        <Button kind="primary" onClick={() => setShowForm(!showForm)} aria-expanded={showForm}>{t('console.members.new')}</Button>
      </PageHeader>
      {saved && (
        <Alert kind="success" testId="member-saved">
          {t(saved.created ? 'console.members.created' : 'console.members.updated', { name: saved.member.name, branch: saved.member.branch.name })}{' '}
          <a href={`#/members/${saved.member.id}`}>{t('console.members.open')}</a>
        </Alert>
      )}
      {showForm && (
        <section class="card"><h2>{t('console.members.registerTitle')}</h2>
          <MemberForm session={session} onSaved={(member, created) => { setSaved({ member, created }); setShowForm(false); state.reload(); }} />
        </section>
      )}
      <Filters onSubmit={() => { setSearch(text.trim()); setAfter(null); }}>
        <BranchSelect session={session} value={branch} onChange={(b) => { setBranch(b); setAfter(null); }} />
        <div class="filter">
          <label for="member-search">{t('console.members.search')}</label>
          <input id="member-search" type="search" class="input" value={text} maxLength={nameLengthMax} placeholder={t('console.members.searchHint')}
            onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        </div>
        <div class="filter filter-button"><Button kind="primary" type="submit">{t('common.search')}</Button></div>
      </Filters>
      <Loaded state={state}>{(page) => page.edges.length === 0 ? <Empty /> : (
        <>
          <div class="table-wrap">
            <table class="table" data-testid="members-table">
              <thead><tr><th>{t('console.members.name')}</th><th>{t('console.members.externalId')}</th><th>{t('console.branch')}</th><th>{t('console.members.flags')}</th><th>{t('console.members.since')}</th></tr></thead>
              <tbody>{page.edges.map(({ node: m }) => (
                <tr key={m.id}><td><a href={`#/members/${m.id}`}>{m.name}</a></td><td><code>{m.externalId}</code></td><td>{m.branch.name}</td><td><MemberFlags member={m} /></td><td>{formatDate(m.createdAt)}</td></tr>
              ))}</tbody>
            </table>
          </div>
          {page.pageInfo.hasNextPage && <Button onClick={() => setAfter(page.pageInfo.endCursor)}>{t('common.more')}</Button>}
        </>
      )}</Loaded>
    </>
  );
}

interface Account { asset: string; balance: string; held: string; available: string }
interface MemberDetail extends MemberRow { accounts: Account[]; statement: Statement }

const memberQuery = `query Member($id: ID!, $period: ReportPeriod!) {
  member(id: $id) {
    id externalId name isPartyMember isVolunteer createdAt branch { code name }
    accounts { asset balance held available }
    statement(period: $period) { ${statementFields} }
  }
}`;

export function MemberPage({ session, params }: PageProps) {
  useLanguage();
  const statementPeriod = useStatementPeriod();
  const { period } = statementPeriod;
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const state = useLoad(() => gql<{ member: MemberDetail | null }>(memberQuery, { id: params.id, period }).then((d) => d.member ?? null), [params.id, period.fromMonth, period.toMonth]);
  // the statement shown (the period applied), as .xlsx
  const download = useAction((externalId: string) => downloadWithToken(
    `/exports/member-statement.xlsx?member=${encodeURIComponent(params.id!)}&fromMonth=${period.fromMonth}&toMonth=${period.toMonth}`,
    `statement-${externalId}-${period.fromMonth}-${period.toMonth}.xlsx`));
  return (
    <Loaded state={state}>{(member) => member === null ? <Alert kind="error">{t('console.members.notFound')}</Alert> : (
      <>
        <PageHeader title={member.name}>
          <Button onClick={() => setEditing(!editing)} aria-expanded={editing}>{t('console.members.edit')}</Button>
        </PageHeader>
        {saved && <Alert kind="success">{saved}</Alert>}
        <section class="card">
          <dl class="descriptions">
            <dt>{t('console.members.externalId')}</dt><dd><code>{member.externalId}</code></dd>
            <dt>{t('console.branch')}</dt><dd data-testid="member-branch">{member.branch.name}</dd>
            <dt>{t('console.members.flags')}</dt><dd><MemberFlags member={member} />{!member.isPartyMember && !member.isVolunteer && '—'}</dd>
            <dt>{t('console.members.since')}</dt><dd>{formatDate(member.createdAt)}</dd>
          </dl>
        </section>
        {editing && (
          <section class="card"><h2>{t('console.members.editTitle')}</h2>
            <MemberForm session={session} initial={member} onSaved={(m) => { setEditing(false); setSaved(t('console.members.updated', { name: m.name, branch: m.branch.name })); state.reload(); }} />
          </section>
        )}
        <section class="card">
          <h2>{t('console.members.wallets')}</h2>
          <table class="table" data-testid="wallets">
            <thead><tr><th>{t('console.asset')}</th><th class="num">{t('console.members.balance')}</th><th class="num">{t('console.members.held')}</th><th class="num">{t('console.members.available')}</th></tr></thead>
            <tbody>{member.accounts.map((a) => (
              <tr key={a.asset} data-asset={a.asset}><td>{label('console.asset', a.asset)}</td><td class="num" data-testid={`balance-${a.asset}`}>{formatAmount(a.balance)}</td><td class="num">{formatAmount(a.held)}</td><td class="num">{formatAmount(a.available)}</td></tr>
            ))}</tbody>
          </table>
        </section>
        <section class="card">
          <h2>{t('console.members.statement')}</h2>
          <StatementPeriodForm state={statementPeriod} idPrefix="st">
            <div class="filter filter-button"><Button busy={download.busy} data-testid="download-statement-xlsx" onClick={() => void download.run(member.externalId)}>{t('console.members.downloadXlsx')}</Button></div>
          </StatementPeriodForm>
          <ErrorAlert error={download.error} />
          <StatementTables statement={member.statement} movementsTestId="movements" />
        </section>
      </>
    )}</Loaded>
  );
}
