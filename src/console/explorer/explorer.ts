// The GraphQL explorer's page script: mounts GraphiQL 3 (React 18 and GraphiQL's prebuilt UMD files,
// loaded before this script by /explorer) with a fetcher that sends the token from the page's token
// field to /graphql. The field starts with the console's session (sessionStorage `cb.session`, written
// by the console's sign-in on this origin) when one is there and not expired. Served by
// src/http/explorer.ts, which strips the types with esbuild; nothing here is fetched from elsewhere.
export {};

interface ConsoleSession { token?: unknown; expiresAt?: unknown }
type GraphQLParams = { query: string; operationName?: string | null; variables?: unknown };

/** Where the console keeps its session (the console's sign-in writes it; this page only reads it). */
const sessionKey = 'cb.session';
/** The first query a newcomer sees: who the token says they are. */
const defaultQuery = `# 文明银行 GraphQL 调试台
# Civility Bank GraphQL explorer
# 在上方填入令牌，按 ▶ 运行。
# Paste a token above, press ▶.
{
  me {
    role
  }
}
`;

const { React, ReactDOM, GraphiQL } = window as unknown as { React: any; ReactDOM: any; GraphiQL: any };
const form = document.getElementById('cb-token-form') as HTMLFormElement;
const input = document.getElementById('cb-token') as HTMLInputElement;
const status = document.getElementById('cb-token-status') as HTMLElement;
const introspection = document.body.dataset.introspection !== 'off';

/** The console's session token, when the console signed in on this origin and it has not expired. */
function readConsoleSession(): { token: string; expiresAt: Date | undefined } | 'expired' | undefined {
  let session: ConsoleSession;
  try {
    session = JSON.parse(sessionStorage.getItem(sessionKey) ?? 'null') ?? {};
  } catch {
    return undefined;
  }
  if (typeof session.token !== 'string' || session.token === '') return undefined;
  const expiresAt = typeof session.expiresAt === 'string' || typeof session.expiresAt === 'number' ? new Date(session.expiresAt) : undefined;
  if (expiresAt && !Number.isNaN(expiresAt.getTime()) && expiresAt.getTime() <= Date.now()) return 'expired';
  return { token: session.token, expiresAt: expiresAt && !Number.isNaN(expiresAt.getTime()) ? expiresAt : undefined };
}

/** Sends an operation as GraphQL over HTTP, with the token when there is one. */
function fetcherFor(token: string) {
  return async (params: GraphQLParams) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify(params), credentials: 'omit' });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`the service answered ${response.status} ${response.statusText} without a GraphQL body`);
    }
  };
}

function describeToken(token: string, source: 'console' | 'field' | 'expired' | 'none'): string {
  if (!token) {
    return source === 'expired'
      ? '控制台会话已过期，请重新登录或粘贴令牌。 The console session has expired: sign in again or paste a token.'
      : '未填令牌：只能运行 signIn 和 noticeBoard。 No token: only signIn and noticeBoard run.';
  }
  return source === 'console' ? '正在使用控制台会话的令牌。 Using your console session’s token.' : '正在使用所填令牌。 Using the token in the field.';
}

const root = ReactDOM.createRoot(document.getElementById('graphiql'));

function render(source: 'console' | 'field' | 'expired' | 'none'): void {
  const token = input.value.trim();
  status.textContent = describeToken(token, source);
  root.render(React.createElement(GraphiQL, {
    // A new fetcher makes GraphiQL load the schema again, now with this token.
    fetcher: fetcherFor(token),
    // null: do not introspect. Without a token introspection is refused (401), and in production the
    // service turns introspection off; queries still run.
    schema: introspection && token ? undefined : null,
    defaultQuery,
    // The token comes from the field above, one place; a second Authorization in GraphiQL's
    // headers editor would only confuse which one was sent.
    isHeadersEditorEnabled: false,
    shouldPersistHeaders: false,
  }));
}

const session = readConsoleSession();
if (session && session !== 'expired') input.value = session.token;
render(session === 'expired' ? 'expired' : session ? 'console' : 'none');

let applied = input.value.trim();
const apply = () => {
  if (input.value.trim() === applied) return;
  applied = input.value.trim();
  render(applied ? 'field' : 'none');
};
form.addEventListener('submit', (event) => { event.preventDefault(); apply(); });
input.addEventListener('change', apply);
