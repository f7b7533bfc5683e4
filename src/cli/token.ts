// npm run token -- --role admin|client|merchant|member [--branch CODE] [--member ID] [--merchant ID]
//                  [--rules a,b|*] [--sub SUBJECT] [--hours N]
// Prints a token signed with the configured key, alone on its last line so scripts can capture it.
// With no --branch the scope is the demo head bank (a member or merchant token needs only the
// head bank from it: its rights come from --member / --merchant).
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { signToken, type TokenClaims } from '../auth/tokens.js';
import { roles, type Role } from '../auth/principal.js';
import { demoHeadCode } from '../../seeds/demo.js';

const { values } = parseArgs({
  options: {
    role: { type: 'string' }, branch: { type: 'string' }, member: { type: 'string' }, merchant: { type: 'string' },
    rules: { type: 'string' }, sub: { type: 'string' }, hours: { type: 'string', default: '24' },
  },
});

function fail(message: string): never {
  console.error(`token: ${message}`);
  console.error('usage: npm run token -- --role admin|client|merchant|member [--branch CODE] [--member ID] [--merchant ID] [--rules a,b|*] [--sub SUBJECT] [--hours N]');
  process.exit(2);
}

const role = values.role as Role;
if (!roles.includes(role)) fail(`--role must be one of ${roles.join(', ')}`);
if (role === 'member' && !values.member) fail('a member token needs --member ID');
if (role === 'merchant' && !values.merchant) fail('a merchant token needs --merchant ID');
const hours = Number(values.hours);
if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 366) fail('--hours must be a positive number of hours');
const config = loadConfig();
const claims: TokenClaims = {
  sub: values.sub ?? (role === 'member' ? `member-${values.member}` : role === 'merchant' ? `merchant-${values.merchant}` : `${role}-cli`),
  role,
  branch: values.branch ?? demoHeadCode,
};
if (values.member) claims.member = values.member;
if (values.merchant) claims.merchant = values.merchant;
if (values.rules) claims.rules = values.rules === '*' ? '*' : values.rules.split(',').map((r) => r.trim()).filter(Boolean);
else if (role === 'client') claims.rules = '*';
console.error(`${role} token for branch ${claims.branch}, valid ${hours} h:`);
console.log(signToken(config, claims, Math.round(hours * 3600)));
