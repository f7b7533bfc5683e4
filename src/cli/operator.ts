// npm run operator -- <add|list|disable|enable|reset-password> ...: manages operator accounts from the
// command line, against the service's database (embedded, or DATABASE_URL) as verify and sweep do.
// This is how the first operator of a bank is made; after that admins manage their own scope in the
// console. A password comes from OPERATOR_PASSWORD or stdin, or is generated and printed once.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { connectDatabaseServer } from '../db/connect.js';
import { openDatabase } from '../db/database.js';
import { openBank, type Bank } from '../bank.js';
import { BankError } from '../errors.js';
import {
  checkUsername, findOperatorByUsername, insertOperator, operatorColumns, placeOperator, setOperatorDisabled,
  setOperatorPassword, toOperator, type Operator, type OperatorRole,
} from '../operators/operators.js';
import { checkPasswordPolicy, generatePassword, hashPassword } from '../operators/passwords.js';

const usage = `usage: npm run operator -- <command> [options]

commands:
  add --username U --role admin|merchant --branch CODE [--merchant ID] [--name NAME]
        an admin manages the subtree of --branch; merchant staff work for --merchant, a merchant
        inside --branch (the head bank's code will do)
  list [--branch CODE]           every operator, or those of a branch subtree
  disable --username U           it cannot sign in; its sessions end at once
  enable --username U            it may sign in again
  reset-password --username U    a new password; also unlocks it and ends its sessions

The password (add, reset-password) is read from OPERATOR_PASSWORD, or from stdin when it is not a
terminal (echo "$PASSWORD" | npm run operator -- add ...); with neither, a strong one is generated
and printed once. 10 to 128 characters, no control characters, not containing the username.

options: --database NAME  the embedded cluster's database (default civility_bank, npm start's)
         --help           this text`;

const commands = ['add', 'list', 'disable', 'enable', 'reset-password'] as const;
type Command = (typeof commands)[number];

/** Longest stdin read for a password: a password is at most 128 characters. */
const stdinBytesMax = 4096;

function fail(message: string, code = 2): never {
  console.error(`operator: ${message}`);
  if (code === 2) console.error('run npm run operator -- --help for the usage');
  process.exit(code);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      username: { type: 'string' }, role: { type: 'string' }, branch: { type: 'string' }, merchant: { type: 'string' },
      name: { type: 'string' }, database: { type: 'string', default: 'civility_bank' }, help: { type: 'boolean', short: 'h' },
    },
  });
} catch (error) {
  fail((error as Error).message);
}
const { values, positionals } = parsed;
if (values.help || positionals[0] === 'help') {
  console.log(usage);
  process.exit(0);
}
const command = positionals[0] as Command;
if (!commands.includes(command)) fail(positionals[0] ? `unknown command "${positionals[0]}"` : 'name a command');
if (positionals.length > 1) fail(`unexpected argument "${positionals[1]}"`);
if (command === 'add') {
  if (!values.username || !values.role || !values.branch) fail('add needs --username, --role and --branch');
  if (values.role !== 'admin' && values.role !== 'merchant') fail('--role must be admin or merchant');
  if (values.role === 'merchant' && !values.merchant) fail('merchant staff need --merchant ID (the merchant they work for)');
  if (values.role === 'admin' && values.merchant) fail('an admin takes no --merchant');
}
if (['disable', 'enable', 'reset-password'].includes(command) && !values.username) fail(`${command} needs --username`);

/** The password to set: OPERATOR_PASSWORD, else piped stdin, else generated (then printed once). */
async function passwordFor(username: string): Promise<{ password: string; generated: boolean }> {
  let given = process.env.OPERATOR_PASSWORD;
  if (!given && !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of process.stdin) {
      chunks.push(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (bytes > stdinBytesMax) throw new Error(`stdin holds more than ${stdinBytesMax} bytes; send the password alone`);
    }
    given = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  if (given) return { password: checkPasswordPolicy(given, 'password', username), generated: false };
  return { password: generatePassword(), generated: true };
}

function describe(o: Operator, branchCode: string): string {
  const state = o.disabledAt ? 'disabled' : o.lockedUntil && o.lockedUntil > new Date() ? `locked until ${o.lockedUntil.toISOString()}` : 'active';
  return `${o.id.padStart(5)}  ${o.username.padEnd(24)} ${o.role.padEnd(9)} ${branchCode.padEnd(24)} ${(o.merchantId ?? '-').padEnd(8)} ${state.padEnd(10)} ${o.displayName}`;
}

async function requireOperator(bank: Bank, username: string | undefined): Promise<Operator> {
  if (!username) throw new Error('--username is required');
  const operator = await findOperatorByUsername(bank, checkUsername(username, '--username'));
  if (!operator) throw new Error(`no operator "${username}" (npm run operator -- list shows them)`);
  return operator;
}

async function run(bank: Bank): Promise<void> {
  switch (command) {
    case 'add': {
      const username = checkUsername(values.username, '--username');
      const branch = await bank.branches.require(values.branch!, '--branch');
      const placement = await placeOperator(bank, branch.headId, values.role, values.branch, values.merchant ?? null);
      const { password, generated } = await passwordFor(username);
      const id = await insertOperator(bank.knex, {
        headId: branch.headId, username, displayName: values.name?.trim() || username, role: values.role as OperatorRole,
        placement, passwordHash: await hashPassword(password, bank.config.operators.passwordLogN), createdBy: 'cli',
      });
      if (!id) throw new Error(`username "${username}" is taken; choose another (npm run operator -- list)`);
      const what = placement.merchant ? `staff of merchant ${placement.merchant.id} (${placement.merchant.name})` : `admin of branch ${placement.branch.code} and its subtree`;
      console.log(`created operator ${username} (id ${id}): ${what}`);
      if (generated) console.log(`password (shown once; give it to the person, who can change it after signing in): ${password}`);
      return;
    }
    case 'list': {
      const scope = values.branch ? await bank.branches.require(values.branch, '--branch') : null;
      const { rows } = await bank.knex.raw(`SELECT ${operatorColumns}, b.code AS branch_code, b.path FROM operators o JOIN branches b ON b.id = o.branch_id ORDER BY o.head_id, o.id`);
      const shown = rows.filter((r: any) => !scope || (String(r.head_id) === scope.headId && r.path.startsWith(scope.path)));
      if (!shown.length) {
        console.log(scope ? `no operators in the subtree of ${scope.code}` : 'no operators yet: npm run operator -- add ... creates the first');
        return;
      }
      console.log(`${'id'.padStart(5)}  ${'username'.padEnd(24)} ${'role'.padEnd(9)} ${'branch'.padEnd(24)} ${'merchant'.padEnd(8)} ${'state'.padEnd(10)} name`);
      for (const r of shown) console.log(describe(toOperator(r), r.branch_code));
      return;
    }
    case 'disable':
    case 'enable': {
      const operator = await setOperatorDisabled(bank, await requireOperator(bank, values.username), command === 'disable');
      console.log(command === 'disable' ? `disabled ${operator.username}; its sessions have ended` : `enabled ${operator.username}; it may sign in again`);
      return;
    }
    case 'reset-password': {
      const operator = await requireOperator(bank, values.username);
      const { password, generated } = await passwordFor(operator.username);
      await setOperatorPassword(bank, operator, await hashPassword(password, bank.config.operators.passwordLogN));
      console.log(`set a new password for ${operator.username}; it is unlocked and its sessions have ended`);
      if (generated) console.log(`password (shown once): ${password}`);
      return;
    }
  }
}

/** Whether the database has the operators table (migration 060): asked before openBank, which needs older tables. */
async function hasOperatorsTable(url: string): Promise<boolean> {
  const db = openDatabase(url, 1);
  try {
    const { rows } = await db.knex.raw(`SELECT to_regclass('operators') IS NOT NULL AS present`);
    return rows[0].present === true;
  } finally {
    await db.close();
  }
}

const config = loadConfig();
const log = (line: string) => console.error(`[operator] ${line}`);
let server;
try {
  server = await connectDatabaseServer(config, values.database!, false, log);
} catch (error) {
  fail(`cannot reach the database (${(error as Error).message}); check DATABASE_URL, or PG_PORT and PG_DATA_DIR for the embedded one`, 1);
}
let exitCode = 0;
try {
  if (!(await hasOperatorsTable(server.url))) {
    throw new Error('the database is not migrated to a schema with operators: run npm run migrate (or start the service once with npm start), then try again');
  }
  const bank = await openBank(config, server.url);
  try {
    await run(bank);
  } finally {
    await bank.close();
  }
} catch (error) {
  console.error(`operator: ${error instanceof BankError ? error.message : (error as Error).message}`);
  exitCode = 1;
} finally {
  await server.stop();
}
process.exit(exitCode);
