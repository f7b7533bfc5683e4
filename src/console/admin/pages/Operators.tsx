// Operators (操作员): the people who sign in to the pages within a branch subtree in scope. List,
// create (an admin of a branch, or staff of a merchant), reset a password (unlocks, ends sessions),
// disable or enable. Passwords are typed here once and never shown again.
import { useRef, useState } from 'preact/hooks';
import type { PageProps } from './index.js';
import { gql, newKey } from '../../shared/api.js';
import { t, useLanguage } from '../../shared/i18n.js';
import { formatDateTime } from '../../shared/format.js';
import { Alert, Button, Empty, ErrorAlert, Field, useAction } from '../../shared/ui.js';
import { BranchSelect, Filters, Loaded, PageHeader, Tag, useLoad, useScopeBranches } from '../kit.js';

interface Operator {
  id: string; username: string; displayName: string; role: 'admin' | 'merchant'; disabled: boolean; lockedUntil: string | null;
  createdAt: string; createdBy: string; branch: { code: string; name: string }; merchant: { id: string; name: string } | null;
}

const operatorFields = 'id username displayName role disabled lockedUntil createdAt createdBy branch { code name } merchant { id name }';
/** Operators per page: a branch office has a handful. */
const operatorsPageSize = 50;
/** The API's password rules (10 to 128 characters, not containing the username): checked here first. */
const passwordLengthMin = 10;
const passwordLengthMax = 128;
const usernamePattern = /^[a-z0-9][a-z0-9._@-]{2,63}$/i;

function passwordProblem(password: string, username: string): string | null {
  if (password.length < passwordLengthMin || password.length > passwordLengthMax) return t('console.operators.passwordLength', { min: passwordLengthMin, max: passwordLengthMax });
  if (username && password.toLowerCase().includes(username.toLowerCase())) return t('console.operators.passwordHasUsername');
  return null;
}

function CreateOperator({ session, onCreated }: { session: PageProps['session']; onCreated(o: Operator): void }) {
  const branches = useScopeBranches(session);
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<'admin' | 'merchant'>('admin');
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [merchant, setMerchant] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const key = useRef<{ value: string; for: string } | null>(null);
  const merchants = useLoad(() => gql<{ merchants: { edges: { node: { id: string; name: string } }[] } }>(
    `query M($branch: String!) { merchants(branch: $branch, first: 100) { edges { node { id name } } } }`, { branch: session.operator.branch.code })
    .then((d) => d.merchants.edges.map((e) => e.node)), [session.operator.branch.code]);
  const create = useAction(async () => {
    const input = { username: username.trim(), displayName: displayName.trim(), role, ...(role === 'admin' ? { branch } : { merchant }) };
    const signature = JSON.stringify(input);
    if (!key.current || key.current.for !== signature) key.current = { value: newKey('operator'), for: signature };
    const data = await gql<{ createOperator: { operator: Operator } }>(`mutation Create($input: CreateOperatorInput!) { createOperator(input: $input) { operator { ${operatorFields} } } }`,
      { input: { idempotencyKey: key.current.value, ...input, password } });
    key.current = null;
    setPassword('');
    onCreated(data.createOperator.operator);
  });
  const submit = (e: Event) => {
    e.preventDefault();
    const next: Record<string, string> = {};
    if (!username.trim()) next.username = t('common.required', { field: t('console.operators.username') });
    else if (!usernamePattern.test(username.trim())) next.username = t('console.operators.usernameInvalid');
    if (!displayName.trim()) next.displayName = t('common.required', { field: t('console.operators.displayName') });
    const problem = passwordProblem(password, username.trim());
    if (problem) next.password = problem;
    if (role === 'merchant' && !merchant) next.merchant = t('common.required', { field: t('console.operators.merchant') });
    setErrors(next);
    if (Object.keys(next).length) return;
    void create.run();
  };
  return (
    <form class="form-grid" onSubmit={submit} noValidate data-testid="operator-form">
      <Field label={t('console.operators.username')} name="op-username" autoComplete="off" autoCapitalize="none" value={username} error={errors.username} hint={t('console.operators.usernameHint')}
        onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
      <Field label={t('console.operators.displayName')} name="op-display" value={displayName} maxLength={100} error={errors.displayName}
        onInput={(e) => setDisplayName((e.target as HTMLInputElement).value)} />
      <Field label={t('console.operators.password')} name="op-password" type="password" autoComplete="new-password" value={password} error={errors.password}
        hint={t('console.operators.passwordHint', { min: passwordLengthMin })} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
      <div class="field">
        <label for="op-role">{t('console.operators.role')}</label>
        <select id="op-role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as 'admin' | 'merchant')}>
          <option value="admin">{t('console.operators.role.admin')}</option><option value="merchant">{t('console.operators.role.merchant')}</option>
        </select>
      </div>
      {role === 'admin' ? (
        <div class="field">
          <label for="op-branch">{t('console.branch')}</label>
          <select id="op-branch" value={branch} onChange={(e) => setBranch((e.target as HTMLSelectElement).value)}>
            {branches.map((b) => <option key={b.code} value={b.code}>{`${'\u3000'.repeat(b.depth)}${b.name}`}</option>)}
          </select>
        </div>
      ) : (
        <div class={`field${errors.merchant ? ' field-error' : ''}`}>
          <label for="op-merchant">{t('console.operators.merchant')}</label>
          <select id="op-merchant" value={merchant} aria-invalid={errors.merchant ? 'true' : undefined} onChange={(e) => setMerchant((e.target as HTMLSelectElement).value)}>
            <option value="">{t('console.operators.pickMerchant')}</option>
            {(merchants.data ?? []).map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
          </select>
          {errors.merchant && <div class="field-message">{errors.merchant}</div>}
        </div>
      )}
      <div class="field-wide"><ErrorAlert error={create.error} /></div>
      <div class="form-actions field-wide"><Button kind="primary" type="submit" busy={create.busy}>{t('console.operators.create')}</Button></div>
    </form>
  );
}

function OperatorRow({ operator, self, onChanged }: { operator: Operator; self: boolean; onChanged(o: Operator, message: string): void }) {
  const [resetting, setResetting] = useState(false);
  const [password, setPassword] = useState('');
  const [passwordError, setPasswordError] = useState<string | null>(null);
  const act = useAction(async (what: 'disable' | 'enable' | 'reset') => {
    if (what === 'reset') {
      const data = await gql<{ resetOperatorPassword: Operator }>(`mutation Reset($input: ResetOperatorPasswordInput!) { resetOperatorPassword(input: $input) { ${operatorFields} } }`,
        { input: { id: operator.id, password } });
      setPassword('');
      setResetting(false);
      onChanged(data.resetOperatorPassword, t('console.operators.resetDone', { name: operator.displayName }));
    } else {
      const field = what === 'disable' ? 'disableOperator' : 'enableOperator';
      const data = await gql<Record<string, Operator>>(`mutation Toggle($input: OperatorRefInput!) { ${field}(input: $input) { ${operatorFields} } }`, { input: { id: operator.id } });
      onChanged(data[field]!, t(what === 'disable' ? 'console.operators.disabledDone' : 'console.operators.enabledDone', { name: operator.displayName }));
    }
  });
  const locked = operator.lockedUntil && Date.parse(operator.lockedUntil) > Date.now();
  const pwId = `reset-${operator.id}`;
  return (
    <tr data-testid="operator-row" data-username={operator.username}>
      <td>{operator.displayName}<div class="muted"><code>{operator.username}</code></div></td>
      <td>{t(`console.operators.role.${operator.role}`)}</td>
      <td>{operator.merchant ? operator.merchant.name : operator.branch.name}</td>
      <td>{operator.disabled ? <Tag kind="gray">{t('console.operators.disabled')}</Tag> : locked ? <Tag kind="red">{t('console.operators.locked')}</Tag> : <Tag kind="green">{t('console.operators.enabled')}</Tag>}</td>
      <td>{formatDateTime(operator.createdAt)}</td>
      <td>
        {self ? <span class="muted">{t('console.operators.you')}</span> : (
          <div class="actions">
            <Button kind="link" onClick={() => setResetting(!resetting)} aria-expanded={resetting}>{t('console.operators.resetPassword')}</Button>
            {operator.disabled
              ? <Button kind="link" busy={act.busy} onClick={() => void act.run('enable')}>{t('console.operators.enable')}</Button>
              : <Button kind="link" busy={act.busy} onClick={() => void act.run('disable')}>{t('console.operators.disable')}</Button>}
          </div>
        )}
        {resetting && (
          <form class="inline-form" noValidate onSubmit={(e) => {
            e.preventDefault();
            const problem = passwordProblem(password, operator.username);
            setPasswordError(problem);
            if (!problem) void act.run('reset');
          }}>
            <div class={`field${passwordError ? ' field-error' : ''}`}>
              <label for={pwId}>{t('console.operators.newPassword')}</label>
              <input id={pwId} type="password" autoComplete="new-password" value={password} aria-invalid={passwordError ? 'true' : undefined}
                onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
              {passwordError && <div class="field-message">{passwordError}</div>}
            </div>
            <Button kind="primary" type="submit" busy={act.busy}>{t('common.save')}</Button>
          </form>
        )}
        <ErrorAlert error={act.error} />
      </td>
    </tr>
  );
}

export function OperatorsPage({ session }: PageProps) {
  useLanguage();
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [showForm, setShowForm] = useState(false);
  const [changed, setChanged] = useState<Record<string, Operator>>({});
  const [message, setMessage] = useState<string | null>(null);
  const state = useLoad(() => gql<{ operators: { edges: { node: Operator }[] } }>(`query Operators($branch: String!, $first: Int!) { operators(branch: $branch, first: $first) { edges { node { ${operatorFields} } } } }`,
    { branch, first: operatorsPageSize }).then((d) => d.operators.edges.map((e) => e.node)), [branch]);
  return (
    <>
      <PageHeader title={t('console.menu.operators')}>
        <Button kind="primary" onClick={() => setShowForm(!showForm)} aria-expanded={showForm}>{t('console.operators.new')}</Button>
      </PageHeader>
      {message && <Alert kind="success" testId="operator-done">{message}</Alert>}
      {showForm && (
        <section class="card"><h2>{t('console.operators.new')}</h2>
          <CreateOperator session={session} onCreated={(o) => { setShowForm(false); setMessage(t('console.operators.created', { name: o.displayName, username: o.username })); state.reload(); }} />
        </section>
      )}
      <Filters><BranchSelect session={session} value={branch} onChange={setBranch} /></Filters>
      <Loaded state={state}>{(list) => list.length === 0 ? <Empty /> : (
        <div class="table-wrap">
          <table class="table" data-testid="operators-table">
            <thead><tr><th>{t('console.operators.displayName')}</th><th>{t('console.operators.role')}</th><th>{t('console.operators.scope')}</th><th>{t('console.operators.state')}</th><th>{t('console.operators.createdAt')}</th><th>{t('console.operators.actions')}</th></tr></thead>
            <tbody>{list.map((o) => (
              <OperatorRow key={o.id} operator={changed[o.id] ?? o} self={o.id === session.operator.id}
                onChanged={(next, text) => { setChanged({ ...changed, [next.id]: next }); setMessage(text); }} />
            ))}</tbody>
          </table>
        </div>
      )}</Loaded>
    </>
  );
}
