// Households (户): the households of a branch subtree in scope (find one by name or 户编号), this
// month's household leaderboard, registering or updating a household with its members (upsertHousehold,
// idempotent by externalId), and a household's page: its members (户主, adult or minor), wallets, the
// statement of a period and the party members who look after it (党员包户).
import { useRef, useState } from 'preact/hooks';
import type { PageProps } from './index.js';
import { gql, newKey } from '../../shared/api.js';
import { t, useLanguage } from '../../shared/i18n.js';
import { bankToday, formatAmount, formatDate } from '../../shared/format.js';
import { Alert, Button, Empty, ErrorAlert, Field, useAction } from '../../shared/ui.js';
import { BranchSelect, Filters, Loaded, PageHeader, Tag, label, useLoad, useScopeBranches } from '../kit.js';
import { StatementPeriodForm, StatementTables, monthOf, statementFields, useStatementPeriod, type Statement } from '../statement.js';

interface HouseholdRow {
  id: string; externalId: string; name: string; createdAt: string; balance: string;
  branch: { code: string; name: string }; head: { name: string } | null; members: { adult: boolean }[];
}
interface LeaderboardEntry { rank: number; total: string; household: { externalId: string; name: string } }

/** Households read per page of the list. */
const householdsPageSize = 50;
/** Places shown on the page's leaderboard. */
const leaderboardPlaces = 10;
/** The API's bounds: names of 200 characters, external ids of 128, 50 members a household. */
const nameLengthMax = 200;
const externalIdLengthMax = 128;
const membersMax = 50;

const householdsQuery = `query Households($branch: String!, $first: Int!, $after: String) {
  households(branch: $branch, first: $first, after: $after) {
    edges { node { id externalId name createdAt balance branch { code name } head { name } members { adult } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const leaderboardQuery = `query HouseholdLeaderboard($branch: String!, $period: ReportPeriod!, $first: Int!) {
  householdLeaderboard(branch: $branch, asset: POINTS, period: $period, first: $first) { rank total household { externalId name } }
}`;

const householdLink = (externalId: string) => `#/households/${encodeURIComponent(externalId)}`;

interface MemberLine { externalId: string; adult: boolean }

/** Register a household, or (same 户编号) update its name, branch and whole membership. */
function HouseholdForm({ session, onSaved }: { session: PageProps['session']; onSaved(h: { externalId: string; name: string }, created: boolean): void }) {
  const branches = useScopeBranches(session);
  const [externalId, setExternalId] = useState('');
  const [name, setName] = useState('');
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [lines, setLines] = useState<MemberLine[]>([{ externalId: '', adult: true }]);
  const [head, setHead] = useState(0);
  const [errors, setErrors] = useState<{ externalId?: string; name?: string; members?: string }>({});
  const key = useRef<{ value: string; for: string } | null>(null);
  const save = useAction(async () => {
    const members = lines.map((l) => ({ externalId: l.externalId.trim(), adult: l.adult })).filter((l) => l.externalId);
    const headLine = lines[head]?.externalId.trim() || null;
    const input = { externalId: externalId.trim(), name: name.trim(), branch, head: headLine, members };
    // The same request retried keeps its key; a changed form is a new action with a new key.
    const signature = JSON.stringify(input);
    if (!key.current || key.current.for !== signature) key.current = { value: newKey('household'), for: signature };
    const data = await gql<{ upsertHousehold: { created: boolean; household: { externalId: string; name: string } } }>(
      `mutation UpsertHousehold($input: UpsertHouseholdInput!) { upsertHousehold(input: $input) { created household { externalId name } } }`,
      { input: { idempotencyKey: key.current.value, ...input } });
    key.current = null;
    onSaved(data.upsertHousehold.household, data.upsertHousehold.created);
  });
  const setLine = (i: number, change: Partial<MemberLine>) => setLines(lines.map((l, j) => (j === i ? { ...l, ...change } : l)));
  const submit = (e: Event) => {
    e.preventDefault();
    const next: typeof errors = {};
    if (!externalId.trim()) next.externalId = t('common.required', { field: t('console.households.externalId') });
    if (!name.trim()) next.name = t('common.required', { field: t('console.households.name') });
    if (lines.every((l) => !l.externalId.trim())) next.members = t('console.households.membersRequired');
    else if (lines[head] && lines[head]!.externalId.trim() && !lines[head]!.adult) next.members = t('console.households.headAdult');
    setErrors(next);
    if (next.externalId || next.name || next.members) return;
    void save.run();
  };
  return (
    <form class="form-grid" onSubmit={submit} noValidate data-testid="household-form">
      <Field label={t('console.households.externalId')} name="hh-external" value={externalId} maxLength={externalIdLengthMax} error={errors.externalId}
        hint={t('console.households.externalIdHint')} onInput={(e) => setExternalId((e.target as HTMLInputElement).value)} />
      <Field label={t('console.households.name')} name="hh-name" value={name} maxLength={nameLengthMax} error={errors.name}
        hint={t('console.households.nameHint')} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      <div class="field">
        <label for="hh-branch">{t('console.branch')}</label>
        <select id="hh-branch" value={branch} onChange={(e) => setBranch((e.target as HTMLSelectElement).value)}>
          {branches.map((b) => <option key={b.code} value={b.code}>{`${'\u3000'.repeat(b.depth)}${b.name}`}</option>)}
        </select>
      </div>
      <fieldset class="field household-members">
        <legend>{t('console.households.members')}</legend>
        {lines.map((l, i) => (
          <div class="household-member-line" key={i}>
            <input class="input" aria-label={t('console.households.memberExternalId', { n: i + 1 })} placeholder={t('console.households.memberExternalIdHint')}
              value={l.externalId} maxLength={externalIdLengthMax} onInput={(e) => setLine(i, { externalId: (e.target as HTMLInputElement).value })} />
            <label class="check"><input type="checkbox" checked={l.adult} onChange={(e) => setLine(i, { adult: (e.target as HTMLInputElement).checked })} /> {t('console.households.adult')}</label>
            <label class="check"><input type="radio" name="hh-head" checked={head === i} onChange={() => setHead(i)} /> {t('console.households.head')}</label>
          </div>
        ))}
        {lines.length < membersMax && <Button onClick={() => setLines([...lines, { externalId: '', adult: true }])}>{t('console.households.addMember')}</Button>}
        {errors.members && <div class="field-message" role="alert">{errors.members}</div>}
      </fieldset>
      <ErrorAlert error={save.error} />
      <div class="form-actions"><Button kind="primary" type="submit" busy={save.busy}>{t('console.households.save')}</Button></div>
    </form>
  );
}

function HouseholdLeaderboard({ branch }: { branch: string }) {
  const month = monthOf(bankToday());
  const state = useLoad(() => gql<{ householdLeaderboard: LeaderboardEntry[] }>(leaderboardQuery,
    { branch, period: { fromMonth: month, toMonth: month }, first: leaderboardPlaces }).then((d) => d.householdLeaderboard), [branch, month]);
  return (
    <section class="card" data-testid="household-leaderboard">
      <h2>{t('console.households.leaderboard', { month })}</h2>
      <Loaded state={state}>{(rows) => rows.length === 0 ? <Empty /> : (
        <table class="table">
          <thead><tr><th class="num">{t('console.households.rank')}</th><th>{t('console.households.name')}</th><th class="num">{t('console.households.points')}</th></tr></thead>
          <tbody>{rows.map((r) => (
            <tr key={r.household.externalId}><td class="num">{r.rank}</td><td><a href={householdLink(r.household.externalId)}>{r.household.name}</a></td><td class="num">{formatAmount(r.total)}</td></tr>
          ))}</tbody>
        </table>
      )}</Loaded>
    </section>
  );
}

export function HouseholdsPage({ session }: PageProps) {
  useLanguage();
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [text, setText] = useState('');
  const [search, setSearch] = useState('');
  const [after, setAfter] = useState<string | null>(null);
  const [showForm, setShowForm] = useState(false);
  const [saved, setSaved] = useState<{ household: { externalId: string; name: string }; created: boolean } | null>(null);
  const state = useLoad(() => gql<{ households: { edges: { node: HouseholdRow }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>(
    householdsQuery, { branch, first: householdsPageSize, after }).then((d) => d.households), [branch, after]);
  // The API lists a branch's households by id; a page of them is searched here, by name or 户编号.
  const matches = (h: HouseholdRow) => !search || h.name.includes(search) || h.externalId.toLowerCase().includes(search.toLowerCase());
  return (
    <>
      <PageHeader title={t('console.menu.households')}>
        <Button kind="primary" onClick={() => setShowForm(!showForm)} aria-expanded={showForm}>{t('console.households.new')}</Button>
      </PageHeader>
      {saved && (
        <Alert kind="success" testId="household-saved">
          {t(saved.created ? 'console.households.created' : 'console.households.updated', { name: saved.household.name })}{' '}
          <a href={householdLink(saved.household.externalId)}>{t('console.members.open')}</a>
        </Alert>
      )}
      {showForm && (
        <section class="card"><h2>{t('console.households.formTitle')}</h2>
          <HouseholdForm session={session} onSaved={(household, created) => { setSaved({ household, created }); setShowForm(false); state.reload(); }} />
        </section>
      )}
      <Filters onSubmit={() => setSearch(text.trim())}>
        <BranchSelect session={session} value={branch} onChange={(b) => { setBranch(b); setAfter(null); }} />
        <div class="filter">
          <label for="household-search">{t('console.households.search')}</label>
          <input id="household-search" type="search" class="input" value={text} maxLength={nameLengthMax} placeholder={t('console.households.searchHint')}
            onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        </div>
        <div class="filter filter-button"><Button kind="primary" type="submit">{t('common.search')}</Button></div>
      </Filters>
      <Loaded state={state}>{(page) => {
        const rows = page.edges.map((e) => e.node).filter(matches);
        return rows.length === 0 ? <Empty /> : (
          <>
            <div class="table-wrap">
              <table class="table" data-testid="households-table">
                <thead><tr><th class="nowrap">{t('console.households.name')}</th><th class="hide-phone">{t('console.households.externalId')}</th><th class="hide-phone">{t('console.branch')}</th>
                  <th class="nowrap">{t('console.households.head')}</th><th class="num">{t('console.households.memberCount')}</th><th class="num">{t('console.households.balance')}</th></tr></thead>
                <tbody>{rows.map((h) => (
                  <tr key={h.id}><td class="nowrap"><a href={householdLink(h.externalId)}>{h.name}</a></td><td class="hide-phone"><code>{h.externalId}</code></td><td class="hide-phone">{h.branch.name}</td>
                    <td class="nowrap">{h.head?.name ?? '—'}</td><td class="num nowrap">{t('console.households.memberCountN', { n: h.members.length, adults: h.members.filter((m) => m.adult).length })}</td>
                    <td class="num">{formatAmount(h.balance)}</td></tr>
                ))}</tbody>
              </table>
            </div>
            {page.pageInfo.hasNextPage && <Button onClick={() => setAfter(page.pageInfo.endCursor)}>{t('common.more')}</Button>}
          </>
        );
      }}</Loaded>
      <HouseholdLeaderboard branch={branch} />
    </>
  );
}

interface HouseholdDetail {
  externalId: string; name: string; createdAt: string; branch: { name: string };
  head: { id: string } | null;
  members: { adult: boolean; joinedAt: string; member: { id: string; name: string; externalId: string } | null }[];
  accounts: { asset: string; balance: string; available: string }[];
  statement: Statement;
  partyMemberLinks: { linkedAt: string; member: { id: string; name: string } | null }[];
}

const householdQuery = `query Household($externalId: String!, $period: ReportPeriod!) {
  household(externalId: $externalId) {
    externalId name createdAt branch { name } head { id }
    members { adult joinedAt member { id name externalId } }
    accounts { asset balance available }
    statement(period: $period) { ${statementFields} }
    partyMemberLinks { linkedAt member { id name } }
  }
}`;

export function HouseholdPage({ params }: PageProps) {
  useLanguage();
  const statementPeriod = useStatementPeriod();
  const { period } = statementPeriod;
  const externalId = params.externalId ?? '';
  const state = useLoad(() => gql<{ household: HouseholdDetail | null }>(householdQuery, { externalId, period }).then((d) => d.household ?? null),
    [externalId, period.fromMonth, period.toMonth]);
  return (
    <Loaded state={state}>{(h) => h === null ? <Alert kind="error">{t('console.households.notFound')}</Alert> : (
      <>
        <PageHeader title={h.name} />
        <section class="card">
          <dl class="descriptions">
            <dt>{t('console.households.externalId')}</dt><dd><code>{h.externalId}</code></dd>
            <dt>{t('console.branch')}</dt><dd>{h.branch.name}</dd>
            <dt>{t('console.households.partyMembers')}</dt>
            <dd data-testid="household-party-members">{h.partyMemberLinks.length === 0 ? '—' : h.partyMemberLinks.map((l, i) => (
              <span key={i}>{i > 0 && '、'}{l.member ? <a href={`#/members/${l.member.id}`}>{l.member.name}</a> : '—'}</span>))}</dd>
            <dt>{t('console.members.since')}</dt><dd>{formatDate(h.createdAt)}</dd>
          </dl>
        </section>
        <section class="card">
          <h2>{t('console.households.members')}</h2>
          <table class="table" data-testid="household-members">
            <thead><tr><th class="nowrap">{t('console.members.name')}</th><th class="hide-phone">{t('console.members.externalId')}</th><th>{t('console.members.flags')}</th><th class="nowrap">{t('console.households.joined')}</th></tr></thead>
            <tbody>{h.members.map((m, i) => (
              <tr key={m.member?.id ?? i}>
                <td class="nowrap">{m.member ? <a href={`#/members/${m.member.id}`}>{m.member.name}</a> : '—'}</td><td class="hide-phone"><code>{m.member?.externalId ?? ''}</code></td>
                <td>{m.member && h.head?.id === m.member.id && <Tag kind="gold">{t('console.households.head')}</Tag>}
                  {m.adult ? <Tag kind="blue">{t('console.households.adult')}</Tag> : <Tag kind="gray">{t('console.households.minor')}</Tag>}</td>
                <td class="nowrap">{formatDate(m.joinedAt)}</td>
              </tr>
            ))}</tbody>
          </table>
        </section>
        <section class="card">
          <h2>{t('console.members.wallets')}</h2>
          <table class="table" data-testid="household-wallets">
            <thead><tr><th>{t('console.asset')}</th><th class="num">{t('console.members.balance')}</th><th class="num">{t('console.members.available')}</th></tr></thead>
            <tbody>{h.accounts.map((a) => (
              <tr key={a.asset}><td>{label('console.asset', a.asset)}</td><td class="num" data-testid={`household-balance-${a.asset}`}>{formatAmount(a.balance)}</td><td class="num">{formatAmount(a.available)}</td></tr>
            ))}</tbody>
          </table>
        </section>
        <section class="card">
          <h2>{t('console.members.statement')}</h2>
          <StatementPeriodForm state={statementPeriod} idPrefix="hst" />
          <StatementTables statement={h.statement} movementsTestId="household-movements" />
        </section>
      </>
    )}</Loaded>
  );
}
