// The pages' only way into the bank: the public GraphQL API at /graphql, with the signed-in
// operator's token. Errors come back as ApiError with the API's code, message and field; an
// UNAUTHENTICATED answer to a signed-in call ends the session (the operator was signed out or
// disabled). Accept-Language follows the page's language, so the API's messages match it.
import { currentSession, endSession } from './session.js';
import { language } from './i18n.js';

export class ApiError extends Error {
  constructor(readonly code: string, message: string, readonly field?: string, readonly extensions: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
  }
}

interface GraphQLBody<T> { data?: T | null; errors?: { message: string; extensions?: Record<string, unknown> }[] }

/** A request's time budget: a page on a weak network says so instead of spinning for ever. */
const requestTimeoutMs = 30_000;

/** A fresh idempotency key for one user action (reused on its retries, never across actions). */
export function newKey(prefix = 'page'): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

async function post<T>(query: string, variables: Record<string, unknown> | undefined, token: string | null): Promise<GraphQLBody<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'accept-language': language() === 'zh-CN' ? 'zh-CN,zh;q=0.9,en;q=0.5' : 'en' };
  if (token) headers.authorization = `Bearer ${token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), requestTimeoutMs);
  let response: Response;
  try {
    response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }), signal: controller.signal });
  } catch {
    throw new ApiError('NETWORK', 'network');
  } finally {
    clearTimeout(timer);
  }
  try {
    return (await response.json()) as GraphQLBody<T>;
  } catch {
    throw new ApiError(response.status === 503 ? 'UNAVAILABLE' : 'INTERNAL', `HTTP ${response.status}`);
  }
}

function firstError(body: GraphQLBody<unknown>): ApiError | null {
  const error = body.errors?.[0];
  if (!error) return null;
  const extensions = error.extensions ?? {};
  return new ApiError(String(extensions.code ?? 'INTERNAL'), error.message, typeof extensions.field === 'string' ? extensions.field : undefined, extensions);
}

/** A GraphQL call as the signed-in operator; throws ApiError on any error. */
export async function gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
  const session = currentSession();
  if (!session) {
    endSession('expired');
    throw new ApiError('UNAUTHENTICATED', 'not signed in');
  }
  const body = await post<T>(query, variables, session.token);
  const error = firstError(body);
  if (error) {
    if (error.code === 'UNAUTHENTICATED') endSession('ended');
    throw error;
  }
  return body.data as T;
}

/** A GraphQL call without a token (signIn, noticeBoard). */
export async function publicGql<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
  const body = await post<T>(query, variables, null);
  const error = firstError(body);
  if (error) throw error;
  return body.data as T;
}

/**
 * Downloads a file the API serves behind the bearer token (e.g. /exports/party-scores.csv): fetched
 * with the Authorization header, then saved through a blob URL, since a plain link cannot carry it.
 */
export async function downloadWithToken(url: string, fallbackName: string): Promise<void> {
  const session = currentSession();
  if (!session) {
    endSession('expired');
    throw new ApiError('UNAUTHENTICATED', 'not signed in');
  }
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${session.token}` } });
  } catch {
    throw new ApiError('NETWORK', 'network');
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null) as { error?: { code?: string; message?: string } } | null;
    const code = body?.error?.code ?? (response.status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL');
    if (code === 'UNAUTHENTICATED') endSession('ended');
    throw new ApiError(code, body?.error?.message ?? `HTTP ${response.status}`);
  }
  const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const blobUrl = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = blobUrl;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(blobUrl), 10_000);
}
