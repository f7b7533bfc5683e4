// npm run import -- FILE [--dry-run] [--kind members|awards|households] [--token T] [--lang zh-CN|en] [--database NAME]:
// members, awards or households (户) from an .xlsx or .csv (importSheet.ts), written through the domain functions as
// the principal of an API token (importRun.ts), so the token's role and branch scope apply exactly
// as over the API. A progress bar on a terminal, plain lines otherwise; a per-row error report
// beside the file. Exit code 0 when every row was imported (or checked), 1 when some were refused,
// 2 when the file or the command line cannot be used at all.
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { loadConfig } from '../config.js';
import { authenticate } from '../auth/principal.js';
import { BankError } from '../errors.js';
import { pickLanguage, type Language } from '../errorMessages.js';
import { CliError, connectForCli, openCheckedBank, runCli } from './cliDatabase.js';
import { ImportFileError, readImportSheet, type ImportKind } from './importSheet.js';
import { importSheetRows, writeErrorReport } from './importRun.js';

const usage = `usage: npm run import -- FILE [--dry-run] [--kind members|awards|households] [--token TOKEN] [--lang zh-CN|en]
  FILE        an .xlsx (its first worksheet) or a UTF-8 .csv; the first row names the columns
  --kind      members, awards or households (default: from the columns: a 规则/rule column means
              awards, a 户编号/household column households: a row per member, with 户名, 支部, 成年, 户主)
  --dry-run   check every row as the write would, and write nothing
  --token     the API token to import as (default: IMPORT_TOKEN); an admin token for members,
              an admin or client token for awards, an admin token for households; its branch scope applies as over the API
  --lang      the language of the error report's messages (default: from LANG, else en)
  --database  the embedded cluster's database (default civility_bank, npm start's); DATABASE_URL wins
The error report (row, column, message) is written to FILE.errors.csv.`;

function fail(message: string): never {
  console.error(`import: ${message}`);
  console.error(usage);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      'dry-run': { type: 'boolean', default: false }, kind: { type: 'string' }, token: { type: 'string' }, lang: { type: 'string' },
      database: { type: 'string', default: 'civility_bank' }, help: { type: 'boolean', short: 'h' },
    },
  });
} catch (error) {
  fail((error as Error).message);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (positionals.length !== 1) fail(positionals.length ? `one file at a time (got ${positionals.length})` : 'name the file to import');
const file = positionals[0]!;
if (values.kind !== undefined && !['members', 'awards', 'households'].includes(values.kind)) fail('--kind must be members, awards or households');
const token = values.token ?? process.env.IMPORT_TOKEN;
if (!token) fail('give the token to import as: --token TOKEN or IMPORT_TOKEN (npm run token -- --role admin --branch CODE prints one)');
if (values.lang !== undefined && values.lang !== 'en' && values.lang !== 'zh-CN') fail('--lang must be zh-CN or en');
const language: Language = (values.lang as Language | undefined) ?? pickLanguage(process.env.LANG?.split('.')[0]?.replace('_', '-'));
const dryRun = values['dry-run']!;

await runCli('import', async () => {
  let sheet;
  try {
    sheet = await readImportSheet(file, (values.kind as ImportKind | undefined) ?? null);
  } catch (error) {
    if (error instanceof ImportFileError) throw new CliError(error.message);
    throw error;
  }
  const config = loadConfig();
  const server = await connectForCli(config, values.database!, (l) => console.error(l), true);
  try {
    const bank = await openCheckedBank(config, server.url, `the database ${values.database}`);
    try {
      let principal;
      try {
        principal = await authenticate(bank, `Bearer ${token}`);
      } catch (error) {
        if (error instanceof BankError) throw new CliError(`the token: ${error.message}`);
        throw error;
      }
      const total = sheet.rows.length;
      console.error(`${dryRun ? 'checking' : 'importing'} ${total} ${sheet.kind} row(s) of ${file} as ${principal.role} ${principal.sub} (scope ${principal.branch.code})`);
      const bar = process.stdout.isTTY ? new cliProgress.SingleBar({ format: '{bar} {value}/{total} rows', hideCursor: true }, cliProgress.Presets.shades_classic) : null;
      bar?.start(total, 0);
      let printed = 0;
      const outcome = await importSheetRows(bank, principal, sheet, {
        dryRun, language,
        progress: (done) => {
          bar?.update(done);
          // plain lines: one per batch of awards, one per thousand members, and the last
          if (!bar && (done - printed >= 1000 || done === total || sheet.kind === 'awards')) { console.log(`${done}/${total} rows`); printed = done; }
        },
      });
      bar?.stop();
      const report = await writeErrorReport(file, outcome.errors);
      const rowsRefused = new Set(outcome.errors.map((e) => e.row)).size;
      console.log(dryRun
        ? `dry run: ${outcome.written} row(s) would be written, ${outcome.replayed} were imported before, ${rowsRefused} refused; nothing written`
        : `imported ${outcome.written} row(s), ${outcome.replayed} already imported by an earlier run, ${rowsRefused} refused`);
      if (report) console.log(`error report: ${report}`);
      return rowsRefused ? 1 : 0;
    } finally {
      await bank.close();
    }
  } finally {
    await server.stop();
  }
});
