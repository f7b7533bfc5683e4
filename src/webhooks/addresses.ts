// Where a webhook may be sent (issue 15 §2 "Safety"): http or https URLs whose addresses are public.
// Loopback, link-local, private, unique-local, shared (CGNAT), multicast, unspecified, reserved and
// documentation addresses are refused, in IPv4 and IPv6 alike (an IPv4-mapped or NAT64 IPv6 address
// is judged by the IPv4 address inside it), unless WEBHOOK_ALLOW_HOSTS names the host or the address.
// The check runs when a subscription is made and again at every delivery on the addresses DNS gave,
// and the delivery connects to the address that was checked (resolveDeliveryAddress), so a DNS answer
// that changes between the check and the connection cannot point a delivery inward.
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { badInput } from '../errors.js';

/** URLs longer than this are refused (the column's bound). */
export const webhookUrlLengthMax = 2000;

/** IPv4 ranges no webhook goes to (RFC 6890 special-purpose registry, the non-global ones). */
const refusedIpv4: [string, number][] = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
];
/** IPv6 ranges no webhook goes to: unspecified, loopback, discard, documentation, ULA, link-local, site-local, multicast. */
const refusedIpv6: [string, number][] = [
  ['::', 128], ['::1', 128], ['100::', 64], ['2001:db8::', 32], ['2001::', 23], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
];

const refused = new net.BlockList();
for (const [address, prefix] of refusedIpv4) refused.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of refusedIpv6) refused.addSubnet(address, prefix, 'ipv6');

/** The eight 16-bit groups of an IPv6 address (with an embedded dotted IPv4 tail allowed). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -dotted[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  return [...left, ...Array(tail === undefined ? 0 : missing).fill('0'), ...right].map((g) => parseInt(g, 16));
}

/** The IPv4 address an IPv6 address carries (::ffff:a.b.c.d mapped, ::a.b.c.d compatible, 64:ff9b::/96 NAT64), or null. */
function embeddedIpv4(address: string): string | null {
  const g = ipv6Groups(address);
  const mapped = g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0);
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (!mapped && !nat64) return null;
  if (mapped && g[5] === 0 && g[6] === 0) return null; // :: and ::1 are judged as IPv6
  return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');
}

/** Whether an address (IPv4 or IPv6 text) is one webhooks never go to. */
export function isRefusedAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return refused.check(address, 'ipv4');
  if (family !== 6) return true;
  const inner = embeddedIpv4(address);
  if (inner !== null) return refused.check(inner, 'ipv4');
  return refused.check(address.replace(/%.*$/, ''), 'ipv6');
}

/** WEBHOOK_ALLOW_HOSTS parsed: host names (lower case) and addresses that may be private. */
export function parseAllowHosts(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((h) => h.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1')).filter(Boolean);
}

function allowed(allowHosts: readonly string[], hostOrAddress: string): boolean {
  return allowHosts.includes(hostOrAddress.toLowerCase());
}

/** The URL's host without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * A subscription's URL, checked: http or https, no credentials in it, and a host that is not a refused
 * address (a literal one) unless allowed. Host names are resolved at delivery, where the check repeats.
 */
export function checkWebhookUrl(raw: unknown, allowHosts: readonly string[], field = 'url'): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > webhookUrlLengthMax) throw badInput(field, `must be an http or https URL of at most ${webhookUrlLengthMax} characters`);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw badInput(field, 'is not a URL; write it in full, e.g. https://example.org/hooks/civility');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw badInput(field, `must use https or http, not ${url.protocol.replace(':', '')}`);
  if (url.username || url.password) throw badInput(field, 'must not carry a user name or password; authenticate by verifying the signature');
  if (url.hash) throw badInput(field, 'must not have a #fragment');
  const host = hostOf(url);
  if (!host) throw badInput(field, 'needs a host');
  if (net.isIP(host) && isRefusedAddress(host) && !allowed(allowHosts, host)) {
    throw badInput(field, `${host} is a private, loopback, link-local or otherwise non-public address; webhooks go to public addresses only`);
  }
  if ((host === 'localhost' || host.endsWith('.localhost')) && !allowed(allowHosts, host)) {
    throw badInput(field, `${host} is this machine; webhooks go to public addresses only`);
  }
  return url.href;
}

export class RefusedAddress extends Error {}

/**
 * The address a delivery connects to: the URL's host resolved (every answer must be allowed, so a
 * host that also resolves inward is refused as a whole), its first address. Throws RefusedAddress.
 */
export async function resolveDeliveryAddress(url: URL, allowHosts: readonly string[]): Promise<{ address: string; family: 4 | 6 }> {
  const host = hostOf(url);
  const hostAllowed = allowed(allowHosts, host);
  const answers = net.isIP(host) ? [{ address: host, family: net.isIP(host) }] : await lookup(host, { all: true, verbatim: true });
  if (answers.length === 0) throw new RefusedAddress(`${host} has no address`);
  for (const a of answers) {
    if (isRefusedAddress(a.address) && !hostAllowed && !allowed(allowHosts, a.address)) {
      throw new RefusedAddress(`${host} resolves to ${a.address}, a non-public address; refused`);
    }
  }
  return { address: answers[0]!.address, family: answers[0]!.family === 6 ? 6 : 4 };
}
