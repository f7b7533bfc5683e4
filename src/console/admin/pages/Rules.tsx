// Rules (积分细则): the rules in force for a branch in scope, one rule's history of versions
// (rules(code, history: true)), and the form for a new version with its outputs and caps
// (defineRule: each call makes a new version; inline validation before anything is sent).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { PageProps } from './index.js';
import { gql, newKey } from '../../shared/api.js';
import { t, useLanguage } from '../../shared/i18n.js';
import { formatAmount, formatDate, formatDateTime } from '../../shared/format.js';
import { Alert, Button, Empty, ErrorAlert, Field, useAction } from '../../shared/ui.js';
import { BranchSelect, Filters, Loaded, PageHeader, Tag, bankDay, label, useLoad, useScopeBranchList } from '../kit.js';
import { navigate } from '../../shared/router.js';

interface Rule {
  id: string; code: string; version: number; name: string; category: string; description: string | null; requiresApproval: boolean;
  validFrom: string | null; validTo: string | null; createdAt: string; branch: { code: string; name: string };
  outputs: { asset: string; amountPerUnit: string; direction: string }[];
  caps: { window: string; maxCount: string | null; maxAmount: string | null }[];
}

const ruleFields = 'id code version name category description requiresApproval validFrom validTo createdAt branch { code name } outputs { asset amountPerUnit direction } caps { window maxCount maxAmount }';
const assets = ['POINTS', 'PARTY_SCORE', 'VOLUNTEER_HOURS'] as const;
const windows = ['DAY', 'WEEK', 'MONTH', 'YEAR'] as const;
/** The API takes 1 to 8 outputs per rule. */
const outputsMax = 8;
/** A plain decimal with at most 2 places (the assets' scale): checked here, again by the API. */
const decimalPattern = /^\d+(\.\d{1,2})?$/;
/** Rule codes as the API accepts them (src/rules): lower case, dot-separated words, at most 100 characters. */
const codePattern = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;
const codeLengthMax = 100;

function Outputs({ rule }: { rule: Rule }) {
  return <>{rule.outputs.map((o, i) => (
    <div key={i} class={o.direction === 'DEDUCT' ? 'nowrap amount-neg' : 'nowrap'}>{o.direction === 'DEDUCT' ? '−' : '+'}{formatAmount(o.amountPerUnit)} {label('console.asset', o.asset)}</div>
  ))}</>;
}

function Caps({ rule }: { rule: Rule }) {
  if (rule.caps.length === 0) return <span class="muted">{t('console.rules.noCaps')}</span>;
  return <>{rule.caps.map((c) => (
    <div key={c.window} class="nowrap">{label('console.window', c.window)}: {[c.maxCount && t('console.rules.capCount', { n: formatAmount(c.maxCount) }), c.maxAmount && t('console.rules.capAmount', { n: formatAmount(c.maxAmount) })].filter(Boolean).join(' · ')}</div>
  ))}</>;
}

export function RulesPage({ session }: PageProps) {
  useLanguage();
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [filter, setFilter] = useState('');
  const state = useLoad(() => gql<{ rules: Rule[] }>(`query Rules($branch: String) { rules(branch: $branch) { ${ruleFields} } }`, { branch }).then((d) => d.rules), [branch]);
  return (
    <>
      <PageHeader title={t('console.menu.rules')}>
        <Button kind="primary" onClick={() => navigate('/rules/new')}>{t('console.rules.new')}</Button>
      </PageHeader>
      <Filters>
        <BranchSelect session={session} value={branch} onChange={setBranch} />
        <div class="filter">
          <label for="rule-filter">{t('console.rules.filter')}</label>
          <input id="rule-filter" type="search" class="input" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </div>
      </Filters>
      <Loaded state={state}>{(rules) => {
        const needle = filter.trim().toLowerCase();
        const shown = rules.filter((r) => !needle || r.code.toLowerCase().includes(needle) || r.name.toLowerCase().includes(needle) || r.category.toLowerCase().includes(needle));
        return shown.length === 0 ? <Empty /> : (
          <div class="table-wrap">
            <table class="table" data-testid="rules-table">
              <thead><tr><th>{t('console.rules.name')}</th><th>{t('console.rules.code')}</th><th>{t('console.rules.category')}</th><th>{t('console.rules.outputs')}</th><th>{t('console.rules.caps')}</th><th class="nowrap">{t('console.rules.version')}</th><th>{t('console.rules.definedBy')}</th></tr></thead>
              <tbody>{shown.map((r) => (
                <tr key={r.id}>
                  <td><a href={`#/rules/${encodeURIComponent(r.code)}`}>{r.name}</a>{r.requiresApproval && <> <Tag kind="gold">{t('console.rules.needsApproval')}</Tag></>}</td>
                  <td><code>{r.code}</code></td><td>{label('console.category', r.category)}</td><td><Outputs rule={r} /></td><td><Caps rule={r} /></td><td>v{r.version}</td><td>{r.branch.name}</td>
                </tr>
              ))}</tbody>
            </table>
          </div>
        );
      }}</Loaded>
    </>
  );
}

interface OutputDraft { asset: string; amountPerUnit: string; direction: string }
interface CapDraft { maxCount: string; maxAmount: string }

/** A date input (bank calendar day) as the first instant of that day in Asia/Shanghai. */
function dayStart(date: string): string | null {
  return date ? `${date}T00:00:00+08:00` : null;
}

function RuleForm({ session, base, onDefined }: { session: PageProps['session']; base: Rule | null; onDefined(rule: Rule): void }) {
  const { branches, loaded } = useScopeBranchList(session);
  const [code, setCode] = useState(base?.code ?? '');
  const [name, setName] = useState(base?.name ?? '');
  const [category, setCategory] = useState(base?.category ?? '');
  const [description, setDescription] = useState(base?.description ?? '');
  const [branch, setBranch] = useState(base?.branch.code ?? session.operator.branch.code);
  const [outputs, setOutputs] = useState<OutputDraft[]>(base?.outputs.map((o) => ({ ...o })) ?? [{ asset: 'POINTS', amountPerUnit: '', direction: 'CREDIT' }]);
  const [caps, setCaps] = useState<Record<string, CapDraft>>(() => Object.fromEntries(windows.map((w) => {
    const cap = base?.caps.find((c) => c.window === w);
    return [w, { maxCount: cap?.maxCount ?? '', maxAmount: cap?.maxAmount ?? '' }];
  })));
  const [requiresApproval, setRequiresApproval] = useState(base?.requiresApproval ?? false);
  const [validFrom, setValidFrom] = useState(base?.validFrom ? bankDay(base.validFrom) : '');
  const [validTo, setValidTo] = useState(base?.validTo ? bankDay(base.validTo) : '');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const key = useRef<{ value: string; for: string } | null>(null);
  // A version of a rule the head bank (or another branch) defined is made at the operator's own
  // branch when the original's branch is outside its scope: the branch's own version overrides it.
  useEffect(() => {
    if (loaded && !branches.some((b) => b.code === branch)) setBranch(session.operator.branch.code);
  }, [loaded]);

  const input = () => ({
    branch, code: code.trim(), name: name.trim(), category: category.trim(), description: description.trim() || null,
    outputs: outputs.map((o) => ({ asset: o.asset, amountPerUnit: o.amountPerUnit.trim(), direction: o.direction })),
    caps: windows.filter((w) => caps[w]!.maxCount.trim() || caps[w]!.maxAmount.trim())
      .map((w) => ({ window: w, maxCount: caps[w]!.maxCount.trim() || null, maxAmount: caps[w]!.maxAmount.trim() || null })),
    requiresApproval, validFrom: dayStart(validFrom), validTo: dayStart(validTo),
  });

  const define = useAction(async () => {
    const body = input();
    const signature = JSON.stringify(body);
    if (!key.current || key.current.for !== signature) key.current = { value: newKey('rule'), for: signature };
    const data = await gql<{ defineRule: { rule: Rule } }>(`mutation Define($input: DefineRuleInput!) { defineRule(input: $input) { rule { ${ruleFields} } } }`,
      { input: { idempotencyKey: key.current.value, ...body } });
    key.current = null;
    onDefined(data.defineRule.rule);
  });

  const submit = (e: Event) => {
    e.preventDefault();
    const next: Record<string, string> = {};
    const required = (field: string, value: string, labelKey: Parameters<typeof t>[0]) => { if (!value.trim()) next[field] = t('common.required', { field: t(labelKey) }); };
    required('code', code, 'console.rules.code');
    if (!next.code && (!codePattern.test(code.trim()) || code.trim().length > codeLengthMax)) next.code = t('console.rules.codeInvalid');
    required('name', name, 'console.rules.name');
    required('category', category, 'console.rules.category');
    outputs.forEach((o, i) => { if (!decimalPattern.test(o.amountPerUnit.trim()) || Number(o.amountPerUnit) <= 0) next[`output${i}`] = t('console.rules.amountInvalid'); });
    if (new Set(outputs.map((o) => o.asset)).size !== outputs.length) next.outputs = t('console.rules.outputsDistinct');
    for (const w of windows) for (const f of ['maxCount', 'maxAmount'] as const) {
      const v = caps[w]![f].trim();
      if (v && (!decimalPattern.test(v) || Number(v) <= 0)) next[`${w}.${f}`] = t('console.rules.amountInvalid');
    }
    if (validFrom && validTo && validFrom >= validTo) next.validTo = t('console.rules.validOrder');
    setErrors(next);
    if (Object.keys(next).length) return;
    void define.run();
  };

  const setOutput = (i: number, patch: Partial<OutputDraft>) => setOutputs(outputs.map((o, j) => (j === i ? { ...o, ...patch } : o)));
  const setCap = (w: string, patch: Partial<CapDraft>) => setCaps({ ...caps, [w]: { ...caps[w]!, ...patch } });

  return (
    <form class="form-grid" onSubmit={submit} noValidate data-testid="rule-form">
      <Field label={t('console.rules.code')} name="rule-code" value={code} readOnly={Boolean(base)} error={errors.code} hint={t('console.rules.codeHint')}
        onInput={(e) => setCode((e.target as HTMLInputElement).value)} />
      <Field label={t('console.rules.name')} name="rule-name" value={name} maxLength={200} error={errors.name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      <Field label={t('console.rules.category')} name="rule-category" value={category} maxLength={64} error={errors.category} hint={t('console.rules.categoryHint')}
        onInput={(e) => setCategory((e.target as HTMLInputElement).value)} />
      <div class="field">
        <label for="rule-branch">{t('console.rules.definedBy')}</label>
        <select id="rule-branch" value={branch} onChange={(e) => setBranch((e.target as HTMLSelectElement).value)}>
          {branches.map((b) => <option key={b.code} value={b.code}>{`${'\u3000'.repeat(b.depth)}${b.name}`}</option>)}
        </select>
      </div>
      <div class="field field-wide">
        <label for="rule-description">{t('console.rules.description')}</label>
        <textarea id="rule-description" rows={2} maxLength={2000} value={description} onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)} />
      </div>
      <fieldset class="field-wide">
        <legend>{t('console.rules.outputs')}</legend>
        {errors.outputs && <div class="field-message" role="alert">{errors.outputs}</div>}
        {outputs.map((o, i) => (
          <div class="row-fields" key={i}>
            <div class="field"><label for={`out-asset-${i}`}>{t('console.asset')}</label>
              <select id={`out-asset-${i}`} value={o.asset} onChange={(e) => setOutput(i, { asset: (e.target as HTMLSelectElement).value })}>
                {assets.map((a) => <option key={a} value={a}>{label('console.asset', a)}</option>)}
              </select></div>
            <Field label={t('console.rules.amountPerUnit')} name={`out-amount-${i}`} inputMode="decimal" value={o.amountPerUnit} error={errors[`output${i}`]}
              onInput={(e) => setOutput(i, { amountPerUnit: (e.target as HTMLInputElement).value })} />
            <div class="field"><label for={`out-dir-${i}`}>{t('console.rules.direction')}</label>
              <select id={`out-dir-${i}`} value={o.direction} onChange={(e) => setOutput(i, { direction: (e.target as HTMLSelectElement).value })}>
                <option value="CREDIT">{t('console.rules.credit')}</option><option value="DEDUCT">{t('console.rules.deduct')}</option>
              </select></div>
            {outputs.length > 1 && <div class="field field-button"><Button kind="link" onClick={() => setOutputs(outputs.filter((_, j) => j !== i))}>{t('console.rules.removeOutput')}</Button></div>}
          </div>
        ))}
        {outputs.length < outputsMax && <Button kind="link" onClick={() => setOutputs([...outputs, { asset: assets.find((a) => !outputs.some((o) => o.asset === a)) ?? 'POINTS', amountPerUnit: '', direction: 'CREDIT' }])}>{t('console.rules.addOutput')}</Button>}
      </fieldset>
      <fieldset class="field-wide">
        <legend>{t('console.rules.caps')}</legend>
        <p class="field-hint">{t('console.rules.capsHint')}</p>
        {windows.map((w) => (
          <div class="row-fields" key={w}>
            <div class="row-label">{label('console.window', w)}</div>
            <Field label={t('console.rules.maxCount')} name={`cap-${w}-count`} inputMode="decimal" value={caps[w]!.maxCount} error={errors[`${w}.maxCount`]}
              onInput={(e) => setCap(w, { maxCount: (e.target as HTMLInputElement).value })} />
            <Field label={t('console.rules.maxAmount')} name={`cap-${w}-amount`} inputMode="decimal" value={caps[w]!.maxAmount} error={errors[`${w}.maxAmount`]}
              onInput={(e) => setCap(w, { maxAmount: (e.target as HTMLInputElement).value })} />
          </div>
        ))}
      </fieldset>
      <Field label={t('console.rules.validFrom')} name="rule-valid-from" type="date" value={validFrom} onInput={(e) => setValidFrom((e.target as HTMLInputElement).value)} />
      <Field label={t('console.rules.validTo')} name="rule-valid-to" type="date" value={validTo} error={errors.validTo} onInput={(e) => setValidTo((e.target as HTMLInputElement).value)} />
      <div class="field field-wide checks">
        <label class="check"><input type="checkbox" checked={requiresApproval} onChange={(e) => setRequiresApproval((e.target as HTMLInputElement).checked)} /> {t('console.rules.requiresApproval')}</label>
      </div>
      <div class="field-wide"><ErrorAlert error={define.error} /></div>
      <div class="form-actions field-wide">
        <Button kind="primary" type="submit" busy={define.busy} data-testid="define-rule">{base ? t('console.rules.saveVersion') : t('console.rules.create')}</Button>
      </div>
    </form>
  );
}

export function RulePage({ session, params }: PageProps) {
  useLanguage();
  const code = params.code === 'new' ? null : params.code ?? null;
  const [defined, setDefined] = useState<Rule | null>(null);
  const [showForm, setShowForm] = useState(code === null);
  const state = useLoad(() => code === null ? Promise.resolve([] as Rule[])
    : gql<{ rules: Rule[] }>(`query History($code: String!) { rules(code: $code, history: true) { ${ruleFields} } }`, { code }).then((d) => [...d.rules].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.version - a.version)), [code]);
  return (
    <>
      <PageHeader title={code ? t('console.rules.historyOf', { code }) : t('console.rules.new')}>
        {code && <Button kind="primary" onClick={() => setShowForm(!showForm)} aria-expanded={showForm}>{t('console.rules.newVersion')}</Button>}
      </PageHeader>
      {defined && <Alert kind="success" testId="rule-defined">{t('console.rules.defined', { code: defined.code, version: defined.version })}</Alert>}
      <Loaded state={state}>{(history) => (
        <>
          {showForm && (
            <section class="card">
              <h2>{code ? t('console.rules.newVersion') : t('console.rules.new')}</h2>
              <RuleForm key={history[0]?.id ?? 'new'} session={session} base={history[0] ?? null} onDefined={(rule) => {
                setDefined(rule);
                setShowForm(false);
                if (code === null) navigate(`/rules/${encodeURIComponent(rule.code)}`);
                else state.reload();
              }} />
            </section>
          )}
          {code && (history.length === 0 ? <Empty /> : (
            <section class="card">
              <h2>{t('console.rules.history')}</h2>
              <div class="table-wrap">
                <table class="table" data-testid="rule-history">
                  <thead><tr><th class="nowrap">{t('console.rules.version')}</th><th>{t('console.rules.name')}</th><th>{t('console.rules.outputs')}</th><th>{t('console.rules.caps')}</th><th>{t('console.rules.valid')}</th><th>{t('console.rules.definedBy')}</th><th>{t('console.rules.definedAt')}</th></tr></thead>
                  <tbody>{history.map((r) => (
                    <tr key={r.id}><td>v{r.version}</td><td>{r.name}{r.requiresApproval && <> <Tag kind="gold">{t('console.rules.needsApproval')}</Tag></>}</td><td><Outputs rule={r} /></td><td><Caps rule={r} /></td>
                      <td>{r.validFrom || r.validTo ? `${formatDate(r.validFrom)} – ${formatDate(r.validTo)}` : t('console.rules.always')}</td><td>{r.branch.name}</td><td>{formatDateTime(r.createdAt)}</td></tr>
                  ))}</tbody>
                </table>
              </div>
            </section>
          ))}
        </>
      )}</Loaded>
    </>
  );
}
