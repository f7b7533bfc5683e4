// Amounts are exact decimals: parsed strictly from strings, held as decimal.js values, written to
// NUMERIC columns and returned as plain decimal strings at the asset's scale. No float ever touches one.
import { Decimal } from 'decimal.js';
import { badInput } from '../errors.js';

/** Plain decimal notation only: no exponent, no sign other than a leading minus, no spaces. */
const plainDecimal = /^-?(0|[1-9]\d*)(\.\d+)?$/;
/** Amounts above this are refused; a town's yearly issuance is in the millions. */
export const amountDigitsMax = 15;

export interface ParseOptions {
  /** Decimal places allowed (the asset's scale). */
  scale: number;
  sign: 'positive' | 'nonzero' | 'any';
}

export function parseAmount(field: string, raw: unknown, { scale, sign }: ParseOptions): Decimal {
  if (typeof raw !== 'string') throw badInput(field, 'must be a decimal string such as "12.50"');
  if (raw.length > amountDigitsMax + scale + 2 || !plainDecimal.test(raw)) {
    throw badInput(field, `"${raw.slice(0, 40)}" is not a plain decimal such as "12.50" (no exponent, no spaces, no "+")`);
  }
  const value = new Decimal(raw);
  if (value.decimalPlaces() > scale) throw badInput(field, `${raw} has more than ${scale} decimal places`);
  if (value.abs().gte(new Decimal(10).pow(amountDigitsMax))) throw badInput(field, `${raw} is too large`);
  if (sign === 'positive' && !value.isPositive()) throw badInput(field, `must be greater than zero, got ${raw}`);
  if (sign === 'positive' && value.isZero()) throw badInput(field, `must be greater than zero, got ${raw}`);
  if (sign === 'nonzero' && value.isZero()) throw badInput(field, 'must not be zero');
  return value;
}

/** A NUMERIC from the database (a string) at the asset's scale, for the wire. */
export function formatAmount(value: string | Decimal, scale: number): string {
  return new Decimal(value).toFixed(scale);
}
