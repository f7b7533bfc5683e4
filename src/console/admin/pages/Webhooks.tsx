// Webhooks (事件推送): the URLs that receive a branch subtree's events. Create one (URL, event types,
// branch), pause or resume it, rotate its secret, delete it, and see its deliveries with every attempt
// (status code, answer, error), dead letters included, with a button to send one again. A secret is
// shown once, right after create or rotate, with a note to keep it.
import { useRef, useState } from 'preact/hooks';
import type { PageProps } from './index.js';
import { gql, newKey } from '../../shared/api.js';
import { t, useLanguage } from '../../shared/i18n.js';
import { formatDateTime } from '../../shared/format.js';
import { Alert, Button, Empty, ErrorAlert, Field, useAction } from '../../shared/ui.js';
import { BranchSelect, Filters, Loaded, PageHeader, Tag, label, useLoad, useScopeBranches } from '../kit.js';

interface Subscription {
  id: string; url: string; eventTypes: string[]; status: 'ACTIVE' | 'PAUSED'; pending: number; deadLetters: number;
  createdAt: string; branch: { code: string; name: string }; merchant: { id: string; name: string } | null;
}
interface Attempt { number: number; startedAt: string; durationMs: number; statusCode: number | null; responseExcerpt: string | null; error: string | null }
interface Delivery { id: string; eventId: string; eventType: string; occurredAt: string; status: 'PENDING' | 'DELIVERED' | 'DEAD'; nextAttemptAt: string | null; attempts: Attempt[] }

const subscriptionFields = 'id url eventTypes status pending deadLetters createdAt branch { code name } merchant { id name }';
/** Subscriptions per page: a branch has a few receivers. */
const subscriptionsPageSize = 50;
/** Deliveries shown: the latest; older ones are in the API. */
const deliveriesShown = 20;

function CreateSubscription({ session, onCreated }: { session: PageProps['session']; onCreated(s: Subscription, secret: string): void }) {
  const branches = useScopeBranches(session);
  const types = useLoad(() => gql<{ webhookEventTypes: string[] }>('query { webhookEventTypes }').then((d) => d.webhookEventTypes), []);
  const [url, setUrl] = useState('');
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [chosen, setChosen] = useState<string[]>([]);
  const [urlError, setUrlError] = useState<string | undefined>();
  const key = useRef<{ value: string; for: string } | null>(null);
  const create = useAction(async () => {
    const input = { url: url.trim(), branch, eventTypes: chosen };
    const signature = JSON.stringify(input);
    if (!key.current || key.current.for !== signature) key.current = { value: newKey('webhook'), for: signature };
    const data = await gql<{ createWebhookSubscription: { secret: string; subscription: Subscription } }>(
      `mutation Create($input: CreateWebhookSubscriptionInput!) { createWebhookSubscription(input: $input) { secret subscription { ${subscriptionFields} } } }`,
      { input: { idempotencyKey: key.current.value, ...input } });
    key.current = null;
    onCreated(data.createWebhookSubscription.subscription, data.createWebhookSubscription.secret);
  });
  const submit = (e: Event) => {
    e.preventDefault();
    const problem = !url.trim() ? t('common.required', { field: t('console.webhooks.url') })
      : /^https?:\/\/\S+$/i.test(url.trim()) ? undefined : t('console.webhooks.urlInvalid');
    setUrlError(problem);
    if (!problem) void create.run();
  };
  return (
    <form class="form-grid" onSubmit={submit} noValidate data-testid="webhook-form">
      <Field label={t('console.webhooks.url')} name="wh-url" type="url" value={url} error={urlError ?? (create.error && (create.error as { field?: string }).field === 'url' ? String((create.error as Error).message) : undefined)}
        hint={t('console.webhooks.urlHint')} placeholder="https://example.org/hooks/civility" onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
      <div class="field">
        <label for="wh-branch">{t('console.branch')}</label>
        <select id="wh-branch" value={branch} onChange={(e) => setBranch((e.target as HTMLSelectElement).value)}>
          {branches.map((b) => <option key={b.code} value={b.code}>{`${'\u3000'.repeat(b.depth)}${b.name}`}</option>)}
        </select>
      </div>
      <fieldset class="field field-wide">
        <legend>{t('console.webhooks.types')}</legend>
        <div class="field-hint">{t('console.webhooks.typesHint')}</div>
        {(types.data ?? []).map((type) => (
          <label key={type} class="checkbox">
            <input type="checkbox" checked={chosen.includes(type)}
              onChange={(e) => setChosen((e.target as HTMLInputElement).checked ? [...chosen, type] : chosen.filter((x) => x !== type))} />
            {' '}{label('console.webhooks.type', type)} <code>{type}</code>
          </label>
        ))}
      </fieldset>
      <div class="field-wide"><ErrorAlert error={create.error} /></div>
      <div class="form-actions field-wide"><Button kind="primary" type="submit" busy={create.busy}>{t('console.webhooks.create')}</Button></div>
    </form>
  );
}

function statusTag(status: Delivery['status']) {
  const kind = status === 'DELIVERED' ? 'green' : status === 'DEAD' ? 'red' : 'gold';
  return <Tag kind={kind}>{t(`console.webhooks.delivery.${status}`)}</Tag>;
}

function Deliveries({ subscription }: { subscription: Subscription }) {
  const [onlyDead, setOnlyDead] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const state = useLoad(() => gql<{ webhookDeliveries: { edges: { node: Delivery }[] } }>(
    `query Deliveries($s: ID!, $status: WebhookDeliveryStatus, $first: Int!) { webhookDeliveries(subscription: $s, status: $status, first: $first) {
       edges { node { id eventId eventType occurredAt status nextAttemptAt attempts { number startedAt durationMs statusCode responseExcerpt error } } } } }`,
    { s: subscription.id, status: onlyDead ? 'DEAD' : null, first: deliveriesShown }).then((d) => d.webhookDeliveries.edges.map((e) => e.node)), [subscription.id, onlyDead]);
  const redeliver = useAction(async (eventId: string) => {
    await gql(`mutation Redeliver($i: RedeliverWebhookEventsInput!) { redeliverWebhookEvents(input: $i) { queued } }`,
      { i: { idempotencyKey: newKey('redeliver'), subscription: subscription.id, event: eventId } });
    setMessage(t('console.webhooks.redelivered'));
    state.reload();
  });
  return (
    <section class="card" data-testid="webhook-deliveries">
      <h2>{t('console.webhooks.deliveries')} <span class="muted">{subscription.url}</span></h2>
      <label class="checkbox"><input type="checkbox" checked={onlyDead} onChange={(e) => setOnlyDead((e.target as HTMLInputElement).checked)} /> {t('console.webhooks.onlyDead')}</label>
      {message && <Alert kind="success">{message}</Alert>}
      <ErrorAlert error={redeliver.error} />
      <Loaded state={state}>{(list) => list.length === 0 ? <Empty /> : (
        <div class="table-wrap">
          <table class="table">
            <thead><tr><th>{t('console.webhooks.event')}</th><th>{t('console.webhooks.occurredAt')}</th><th>{t('console.operators.state')}</th><th>{t('console.webhooks.attempts')}</th><th>{t('console.operators.actions')}</th></tr></thead>
            <tbody>{list.map((d) => (
              <tr key={d.id} data-testid="delivery-row" data-status={d.status}>
                <td>{label('console.webhooks.type', d.eventType)}<div class="muted"><code>{d.eventId}</code></div></td>
                <td>{formatDateTime(d.occurredAt)}</td>
                <td>{statusTag(d.status)}{d.nextAttemptAt && d.attempts.length > 0 && <div class="muted">{t('console.webhooks.nextAttempt', { at: formatDateTime(d.nextAttemptAt) })}</div>}</td>
                <td><ol class="attempts">{d.attempts.map((a) => (
                  <li key={a.number}>
                    {formatDateTime(a.startedAt)} · {a.statusCode === null ? t('console.webhooks.noAnswer') : `HTTP ${a.statusCode}`} · {a.durationMs} ms
                    {a.error && a.statusCode === null && <div class="muted">{a.error}</div>}
                    {a.responseExcerpt && <div class="muted"><code>{a.responseExcerpt.slice(0, 200)}</code></div>}
                  </li>
                ))}</ol></td>
                <td>{d.status !== 'PENDING' && <Button kind="link" busy={redeliver.busy} onClick={() => void redeliver.run(d.eventId)}>{t('console.webhooks.redeliver')}</Button>}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}</Loaded>
    </section>
  );
}

function SubscriptionRow({ subscription, selected, onSelect, onChanged }: {
  subscription: Subscription; selected: boolean; onSelect(): void; onChanged(next: Subscription | null, message: string, secret?: string): void;
}) {
  const [confirming, setConfirming] = useState(false);
  const act = useAction(async (what: 'pause' | 'resume' | 'rotate' | 'delete') => {
    const input = { id: subscription.id };
    if (what === 'delete') {
      await gql(`mutation Delete($i: WebhookSubscriptionRefInput!) { deleteWebhookSubscription(input: $i) { id } }`, { i: input });
      onChanged(null, t('console.webhooks.deleted', { url: subscription.url }));
    } else if (what === 'rotate') {
      const data = await gql<{ rotateWebhookSecret: { secret: string; subscription: Subscription } }>(
        `mutation Rotate($i: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $i) { secret subscription { ${subscriptionFields} } } }`,
        { i: { ...input, idempotencyKey: newKey('rotate') } });
      onChanged(data.rotateWebhookSecret.subscription, t('console.webhooks.rotated'), data.rotateWebhookSecret.secret);
    } else {
      const field = what === 'pause' ? 'pauseWebhookSubscription' : 'resumeWebhookSubscription';
      const data = await gql<Record<string, Subscription>>(`mutation Toggle($i: WebhookSubscriptionRefInput!) { ${field}(input: $i) { ${subscriptionFields} } }`, { i: input });
      onChanged(data[field]!, t(what === 'pause' ? 'console.webhooks.pausedDone' : 'console.webhooks.resumedDone'));
    }
  });
  return (
    <tr data-testid="webhook-row" data-url={subscription.url} aria-selected={selected}>
      <td><code>{subscription.url}</code><div class="muted">{subscription.merchant ? subscription.merchant.name : subscription.branch.name}</div></td>
      <td>{subscription.eventTypes.length === 0 ? t('console.webhooks.allTypes') : subscription.eventTypes.map((type) => label('console.webhooks.type', type)).join('、')}</td>
      <td>{subscription.status === 'ACTIVE' ? <Tag kind="green">{t('console.webhooks.active')}</Tag> : <Tag kind="gray">{t('console.webhooks.paused')}</Tag>}</td>
      <td>{t('console.webhooks.backlog', { pending: subscription.pending, dead: subscription.deadLetters })}</td>
      <td>
        <div class="actions">
          <Button kind="link" onClick={onSelect} aria-expanded={selected}>{t('console.webhooks.deliveries')}</Button>
          {subscription.status === 'ACTIVE'
            ? <Button kind="link" busy={act.busy} onClick={() => void act.run('pause')}>{t('console.webhooks.pause')}</Button>
            : <Button kind="link" busy={act.busy} onClick={() => void act.run('resume')}>{t('console.webhooks.resume')}</Button>}
          <Button kind="link" busy={act.busy} onClick={() => void act.run('rotate')}>{t('console.webhooks.rotate')}</Button>
          {confirming
            ? <Button kind="danger" busy={act.busy} onClick={() => void act.run('delete')}>{t('console.webhooks.confirmDelete')}</Button>
            : <Button kind="link" onClick={() => setConfirming(true)}>{t('console.webhooks.delete')}</Button>}
        </div>
        <ErrorAlert error={act.error} />
      </td>
    </tr>
  );
}

export function WebhooksPage({ session }: PageProps) {
  useLanguage();
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [showForm, setShowForm] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const state = useLoad(() => gql<{ webhookSubscriptions: { edges: { node: Subscription }[] } }>(
    `query Subscriptions($branch: String!, $first: Int!) { webhookSubscriptions(branch: $branch, first: $first) { edges { node { ${subscriptionFields} } } } }`,
    { branch, first: subscriptionsPageSize }).then((d) => d.webhookSubscriptions.edges.map((e) => e.node)), [branch]);
  const chosen = state.data?.find((s) => s.id === selected);
  return (
    <>
      <PageHeader title={t('console.menu.webhooks')}>
        <Button kind="primary" onClick={() => setShowForm(!showForm)} aria-expanded={showForm}>{t('console.webhooks.new')}</Button>
      </PageHeader>
      <p class="muted">{t('console.webhooks.intro')}</p>
      {message && <Alert kind="success" testId="webhook-done">{message}</Alert>}
      {secret && (
        <Alert kind="warning" testId="webhook-secret">
          {t('console.webhooks.secretOnce')} <code>{secret}</code>
        </Alert>
      )}
      {showForm && (
        <section class="card"><h2>{t('console.webhooks.new')}</h2>
          <CreateSubscription session={session} onCreated={(s, value) => {
            setShowForm(false); setSecret(value); setMessage(t('console.webhooks.created', { url: s.url })); state.reload();
          }} />
        </section>
      )}
      <Filters><BranchSelect session={session} value={branch} onChange={setBranch} /></Filters>
      <Loaded state={state}>{(list) => list.length === 0 ? <Empty /> : (
        <div class="table-wrap">
          <table class="table" data-testid="webhooks-table">
            <thead><tr><th>{t('console.webhooks.url')}</th><th>{t('console.webhooks.types')}</th><th>{t('console.operators.state')}</th><th>{t('console.webhooks.queue')}</th><th>{t('console.operators.actions')}</th></tr></thead>
            <tbody>{list.map((s) => (
              <SubscriptionRow key={s.id} subscription={s} selected={s.id === selected} onSelect={() => setSelected(s.id === selected ? null : s.id)}
                onChanged={(next, text, newSecret) => { setMessage(text); setSecret(newSecret ?? null); if (!next && selected === s.id) setSelected(null); state.reload(); }} />
            ))}</tbody>
          </table>
        </div>
      )}</Loaded>
      {chosen && <Deliveries key={chosen.id} subscription={chosen} />}
    </>
  );
}
