// Small components in Ant Design's patterns (forms with labels and inline errors, alerts, tables,
// a result screen), shared by the console, the counter and the board. Styles: shared/styles.css.
import type { ButtonHTMLAttributes, ComponentChildren, InputHTMLAttributes } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { setLanguage, language, t, useLanguage, type MessageKey } from './i18n.js';

/** A person-readable message for an API error: the API's own (localised) message when it has one. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'NETWORK') return t('error.network');
    const general = `error.${error.code}` as MessageKey;
    return error.message && error.message !== 'network' ? error.message : t(general);
  }
  return t('error.INTERNAL');
}

export function Alert(props: { kind: 'error' | 'success' | 'info' | 'warning'; children: ComponentChildren; testId?: string }) {
  return <div class={`alert alert-${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'} data-testid={props.testId}>{props.children}</div>;
}

export function ErrorAlert({ error }: { error: unknown }) {
  if (!error) return null;
  return <Alert kind="error">{errorText(error)}</Alert>;
}

export function Spinner() {
  return <div class="spinner" role="status" aria-live="polite">{t('common.loading')}</div>;
}

export function Empty() {
  return <div class="empty">{t('common.none')}</div>;
}

interface FieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'label'> {
  label: string;
  name: string;
  error?: string | null;
  hint?: string;
}

/** A labelled input with its inline error (aria-invalid, aria-describedby). */
export function Field({ label, name, error, hint, ...input }: FieldProps) {
  const id = `f-${name}`;
  return (
    <div class={`field${error ? ' field-error' : ''}`}>
      <label for={id}>{label}</label>
      <input id={id} name={name} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? `${id}-error` : hint ? `${id}-hint` : undefined} {...input} />
      {hint && !error && <div class="field-hint" id={`${id}-hint`}>{hint}</div>}
      {error && <div class="field-message" id={`${id}-error`}>{error}</div>}
    </div>
  );
}

export function Button(props: ButtonHTMLAttributes<HTMLButtonElement> & { kind?: 'primary' | 'default' | 'danger' | 'link'; busy?: boolean }) {
  const { kind = 'default', busy, children, disabled, ...rest } = props;
  return <button type="button" class={`btn btn-${kind}`} disabled={Boolean(disabled) || busy} aria-busy={busy ? 'true' : undefined} {...rest}>{children}</button>;
}

export function LanguageSwitch() {
  useLanguage();
  return (
    <button type="button" class="btn btn-link lang-switch" aria-label={t('lang.label')} onClick={() => setLanguage(language() === 'zh-CN' ? 'en' : 'zh-CN')}>
      {t('lang.switch')}
    </button>
  );
}

/**
 * Runs an action once at a time: a double click or a second tap while it runs does nothing (the
 * API's idempotency key guards the network; this guards the button).
 */
export function useAction<A extends unknown[], R>(action: (...args: A) => Promise<R>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const running = useRef(false);
  const run = async (...args: A): Promise<R | undefined> => {
    if (running.current) return undefined;
    running.current = true;
    setBusy(true);
    setError(null);
    try {
      return await action(...args);
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      running.current = false;
      setBusy(false);
    }
  };
  return { run, busy, error, setError };
}
