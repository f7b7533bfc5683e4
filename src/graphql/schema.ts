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

export const resolvers = {
  Decimal: DecimalScalar,
  DateTime: DateTimeScalar,
  JSON: JSONScalar,
  ...merge(directoryResolvers, ledgerResolvers, ruleResolvers, spendingResolvers, partyResolvers, proofResolvers, boardResolvers, operatorResolvers),
};
