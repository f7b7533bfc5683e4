// Security headers on every response: the API serves JSON only, is never framed, never cached by a
// shared cache, and gives browsers no reason to sniff or send referrers. HSTS is left to the TLS
// terminator in front of the service (this process speaks plain HTTP on 127.0.0.1).
import type { RequestHandler } from 'express';

const headers: Record<string, string> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  'cache-control': 'no-store',
};

export const securityHeaders: RequestHandler = (_req, res, next) => {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  next();
};
