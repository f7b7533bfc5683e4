// Standard Webhooks signatures (https://www.standardwebhooks.com): a secret is `whsec_` and the base64
// of 32 random bytes; a delivery carries webhook-id (the event id, stable across retries so receivers
// dedupe), webhook-timestamp (seconds) and webhook-signature, `v1,<base64 HMAC-SHA256 of
// "id.timestamp.body">` keyed with the secret's bytes. During a rotation's grace period the previous
// secret signs too (space-separated signatures, as the specification allows).
import { createHmac, randomBytes } from 'node:crypto';

/** 256-bit secrets: the size of the HMAC's hash, as the specification recommends (24 to 64 bytes). */
export const webhookSecretBytes = 32;
const secretPrefix = 'whsec_';

/** A new secret from the operating system's cryptographic randomness. */
export function generateWebhookSecret(): string {
  return `${secretPrefix}${randomBytes(webhookSecretBytes).toString('base64')}`;
}

function secretKey(secret: string): Buffer {
  if (!secret.startsWith(secretPrefix)) throw new Error('invariant broken: a webhook secret without its whsec_ prefix');
  const key = Buffer.from(secret.slice(secretPrefix.length), 'base64');
  if (key.length !== webhookSecretBytes) throw new Error('invariant broken: a webhook secret of the wrong length');
  return key;
}

/** One `v1,` signature of a message. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers of a delivery, signed with every secret given (newest first). */
export function webhookHeaders(secrets: readonly string[], id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((s) => signWebhook(s, id, timestampSeconds, body)).join(' '),
  };
}
