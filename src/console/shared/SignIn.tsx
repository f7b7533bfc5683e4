// The sign-in form shared by the console (admins) and the counter (merchant staff): signIn returns a
// token like any client's; an account of the other kind is pointed to its own page.
import { useState } from 'preact/hooks';
import { publicGql, ApiError } from './api.js';
import { startSession, takeEndReason, type Session } from './session.js';
import { t, useLanguage } from './i18n.js';
import { Alert, Button, Field, LanguageSwitch, errorText } from './ui.js';

const signInMutation = `mutation SignIn($input: SignInInput!) {
  signIn(input: $input) { token expiresAt operator { id username displayName role branch { code name } merchant { id name } } }
}`;

export function SignIn({ role }: { role: 'admin' | 'merchant' }) {
  useLanguage();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<{ username?: string; password?: string }>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [ended] = useState(() => takeEndReason());
  const area = role === 'admin' ? 'console' : 'counter';

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    const missing: typeof errors = {};
    if (!username.trim()) missing.username = t('common.required', { field: t('signIn.username') });
    if (!password) missing.password = t('common.required', { field: t('signIn.password') });
    setErrors(missing);
    setFailure(null);
    if (missing.username || missing.password) return;
    setBusy(true);
    try {
      const data = await publicGql<{ signIn: Session }>(signInMutation, { input: { username: username.trim(), password } });
      if (data.signIn.operator.role !== role) {
        setFailure(t(role === 'admin' ? 'signIn.wrongRole.console' : 'signIn.wrongRole.counter'));
        return;
      }
      startSession(data.signIn);
    } catch (error) {
      setFailure(error instanceof ApiError ? errorText(error) : t('error.INTERNAL'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class={`signin signin-${area}`}>
      <div class="signin-top"><LanguageSwitch /></div>
      <form class="signin-card" onSubmit={submit} noValidate aria-labelledby="signin-title">
        <h1 id="signin-title">{t('app.name')} · {t(`${area}.title` as 'console.title')}</h1>
        <h2>{t('signIn.title')}</h2>
        {ended && <Alert kind="warning">{t(ended === 'signedOut' ? 'signIn.signedOut' : ended === 'expired' ? 'signIn.expired' : 'signIn.ended')}</Alert>}
        {failure && <Alert kind="error" testId="signin-error">{failure}</Alert>}
        <Field label={t('signIn.username')} name="username" autoComplete="username" autoCapitalize="none" value={username}
          error={errors.username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
        <Field label={t('signIn.password')} name="password" type="password" autoComplete="current-password" value={password}
          error={errors.password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        <Button kind="primary" type="submit" busy={busy} class="btn btn-primary btn-block">{busy ? t('signIn.submitting') : t('signIn.submit')}</Button>
        <p class="signin-other"><a href={role === 'admin' ? '/counter' : '/console'}>{t(role === 'admin' ? 'signIn.toCounter' : 'signIn.toConsole')}</a></p>
      </form>
    </main>
  );
}
