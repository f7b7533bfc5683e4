// npm run token -- --role admin|client|merchant|member [--branch CODE] [--member ID] [--merchant ID]
//                  [--rules a,b|*] [--sub SUBJECT] [--hours N]
// Prints a token signed with the configured key, alone on its last line so scripts can capture it.
// A client token names its rules explicitly (--rules a,b, or --rules '*' for every rule): a
// forgotten flag must not quietly mint a token that may apply any rule. --help prints the usage.
// With no --branch the scope is the demo head bank (a member or merchant token needs only the
// head bank from it: its rights come from --member / --merchant).
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { signToken, type TokenClaims } from '../auth/tokens.js';
import { roles, type Role } from '../auth/principal.js';
import { demoHeadCode } from '../../seeds/demo.js';

const usage = `usage: npm run token -- --role admin|client|merchant|member [--branch CODE] [--member ID] [--merchant ID]
                      [--rules a,b|'*'] [--sub SUBJECT] [--hours N]
  --role      what the token may do (required)
  --branch    the scope of an admin or client (default: the demo head bank, ${demoHeadCode})
  --member    the member id of a member token (required for --role member)
  --merchant  the merchant id of a merchant token (required for --role merchant)
  --rules     the rule codes a client may apply, comma-separated, or '*' for all (required for --role client)
  --sub       the subject (default: derived from the role)
  --hours     validity in hours (default 24, at most ${24 * 366})
examples:
  npm run token -- --role admin
  npm run token -- --role client --rules garbage.sorted-drop,garbage.bin-duty --sub kiosk-1
  npm run token -- --role member --member 2`;

function fail(message: string): never {
  console.error(`token: ${message}`);
  console.error(usage);
  process.exit(2);
}

let values: { role?: string; branch?: string; member?: string; merchant?: string; rules?: string; sub?: string; hours?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      role: { type: 'string' }, branch: { type: 'string' }, member: { type: 'string' }, merchant: { type: 'string' },
      rules: { type: 'string' }, sub: { type: 'string' }, hours: { type: 'string', default: '24' }, help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}

const role = values.role as Role;
if (!roles.includes(role)) fail(`--role must be one of ${roles.join(', ')}`);
if (role === 'member' && !values.member) fail('a member token needs --member ID');
if (role === 'merchant' && !values.merchant) fail('a merchant token needs --merchant ID');
if (role === 'client' && !values.rules?.trim()) fail("a client token needs its rules: pass --rules a,b (the rule codes it may apply) or --rules '*' (every rule) explicitly");
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
if (values.rules) claims.rules = values.rules.trim() === '*' ? '*' : values.rules.split(',').map((r) => r.trim()).filter(Boolean);
console.error(`${role} token for branch ${claims.branch}, valid ${hours} h:`);
console.log(signToken(config, claims, Math.round(hours * 3600)));
