// The API's scalars: Decimal (plain decimal strings, never floats), DateTime (ISO 8601 with a
// zone) and JSON (an object). Scale checks belong to the domain, which knows the asset.
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { jsonDeeperThan, jsonDepthMax } from '../inputChecks.js';

const plainDecimal = /^-?(0|[1-9]\d*)(\.\d+)?$/;
/** Longer decimal strings are refused before any parsing. */
const decimalLengthMax = 40;
const isoDateTime = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function badValue(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/**
 * A literal's refusal carries its node: graphql-js reports a scalar's own GraphQLError as thrown, and
 * without the node the answer could not say where in the query the bad value was (extensions.field).
 */
function atLiteral<T>(ast: ValueNode, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof GraphQLError && !error.nodes) throw new GraphQLError(error.message, { nodes: ast, extensions: error.extensions });
    throw error;
  }
}

function parseDecimal(value: unknown): string {
  if (typeof value !== 'string') throw badValue('Decimal must be a string such as "12.50", not a number');
  if (value.length > decimalLengthMax || !plainDecimal.test(value)) {
    throw badValue(`"${value.slice(0, decimalLengthMax)}" is not a plain decimal such as "12.50" (no exponent, no spaces, no "+")`);
  }
  return value;
}

export const DecimalScalar = new GraphQLScalarType({
  name: 'Decimal',
  serialize: (value) => String(value),
  parseValue: parseDecimal,
  parseLiteral: (ast) => atLiteral(ast, () => {
    if (ast.kind !== Kind.STRING) throw badValue('Decimal must be a string literal such as "12.50"');
    return parseDecimal(ast.value);
  }),
});

function parseDateTime(value: unknown): Date {
  const match = typeof value === 'string' ? isoDateTime.exec(value) : null;
  if (!match) throw badValue('DateTime must be ISO 8601 with a time zone, e.g. "2026-11-23T08:30:00Z"');
  const date = new Date(value as string);
  // JavaScript rolls impossible fields over ("2026-02-30" becomes March 2): the fields as written
  // must name a real calendar date and time, or the activity would be dated to another day.
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(match[i] ?? 0)) as [number, number, number, number, number, number];
  const asWritten = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  asWritten.setUTCFullYear(year);
  if (Number.isNaN(date.getTime()) || asWritten.getUTCFullYear() !== year || asWritten.getUTCMonth() !== month - 1
      || asWritten.getUTCDate() !== day || asWritten.getUTCHours() !== hour || asWritten.getUTCMinutes() !== minute
      || asWritten.getUTCSeconds() !== second) {
    throw badValue(`"${value}" is not a real date-time`);
  }
  return date;
}

export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  serialize: (value) => (value instanceof Date ? value : new Date(String(value))).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => atLiteral(ast, () => {
    if (ast.kind !== Kind.STRING) throw badValue('DateTime must be a string');
    return parseDateTime(ast.value);
  }),
});

/** Whether a JSON literal of the document nests deeper than max; iterative, before literalToJson recurses. */
function literalDeeperThan(root: ValueNode, max: number): boolean {
  const pending: [ValueNode, number][] = [[root, 0]];
  while (pending.length) {
    const [ast, depth] = pending.pop()!;
    if (ast.kind !== Kind.LIST && ast.kind !== Kind.OBJECT) continue;
    if (depth + 1 > max) return true;
    for (const child of ast.kind === Kind.LIST ? ast.values : ast.fields.map((f) => f.value)) pending.push([child, depth + 1]);
  }
  return false;
}

const tooDeep = () => badValue(`JSON is nested deeper than ${jsonDepthMax} levels`);

function literalToJson(ast: ValueNode): unknown {
  switch (ast.kind) {
    case Kind.STRING: case Kind.BOOLEAN: return ast.value;
    case Kind.INT: case Kind.FLOAT: return Number(ast.value);
    case Kind.NULL: return null;
    case Kind.LIST: return ast.values.map(literalToJson);
    case Kind.OBJECT: return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToJson(f.value)]));
    default: throw badValue('JSON literals may not contain variables');
  }
}

export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  serialize: (value) => value,
  parseValue: (value) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badValue('JSON must be an object');
    if (jsonDeeperThan(value, jsonDepthMax)) throw tooDeep();
    return value;
  },
  parseLiteral: (ast) => atLiteral(ast, () => {
    if (ast.kind !== Kind.OBJECT) throw badValue('JSON must be an object');
    if (literalDeeperThan(ast, jsonDepthMax)) throw tooDeep();
    return literalToJson(ast);
  }),
});
