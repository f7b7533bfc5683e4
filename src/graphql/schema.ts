// The executable schema: the SDL in schema/*.graphql (read once at start) with the resolvers.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../config.js';
import { DateTimeScalar, DecimalScalar, JSONScalar } from './scalars.js';
import { directoryResolvers } from './resolvers/directory.js';
import { ledgerResolvers } from './resolvers/ledger.js';
import { ruleResolvers } from './resolvers/rules.js';
import { spendingResolvers } from './resolvers/spending.js';
import { partyResolvers } from './resolvers/party.js';
import { proofResolvers } from './resolvers/proof.js';
import { boardResolvers } from './resolvers/board.js';
import { operatorResolvers } from './resolvers/operators.js';
import { eventResolvers } from './resolvers/events.js';
import { webhookResolvers } from './resolvers/webhooks.js';
import { householdResolvers } from './resolvers/households.js';
import { selectionResolvers } from './resolvers/selections.js';
import { expiryResolvers } from './resolvers/expiry.js';
import { householdReportResolvers } from './resolvers/householdReports.js';
import { statementTimedOut } from '../db/errors.js';
import type { Context } from './context.js';
import { countWrites } from './observation.js';

export function loadTypeDefs(): string {
  const dir = path.join(projectRoot, 'schema');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort()
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
}

type ResolverMap = Record<string, Record<string, unknown>>;

function merge(...maps: ResolverMap[]): ResolverMap {
  const out: ResolverMap = {};
  for (const map of maps) for (const [type, fields] of Object.entries(map)) out[type] = { ...out[type], ...fields };
  return out;
}

type RootResolver = (parent: unknown, args: unknown, ctx: Context, info: unknown) => unknown;

/**
 * Root fields check the request's time budget before they start: statement_timeout stops one slow
 * statement, this stops a request that would run many (aliases resolve one after another once the pool is busy).
 */
function withinBudget(map: ResolverMap): ResolverMap {
  for (const root of ['Query', 'Mutation']) {
    const fields = map[root];
    if (!fields) continue;
    map[root] = Object.fromEntries(Object.entries(fields).map(([name, resolve]) => [name, (parent: unknown, args: unknown, ctx: Context, info: unknown) => {
      if (ctx.deadline !== undefined && Date.now() > ctx.deadline) throw statementTimedOut();
      return (resolve as RootResolver)(parent, args, ctx, info);
    }]));
  }
  return map;
}

export const resolvers = {
  Decimal: DecimalScalar,
  DateTime: DateTimeScalar,
  JSON: JSONScalar,
  // outermost: a write refused for its time budget is counted too
  ...countWrites(withinBudget(merge(directoryResolvers, ledgerResolvers, ruleResolvers, spendingResolvers, partyResolvers, proofResolvers, boardResolvers, operatorResolvers, eventResolvers, webhookResolvers, householdResolvers, selectionResolvers, expiryResolvers, householdReportResolvers))),
};
