// Adds the API's exact decimal strings ("12.50") without a float: as integers of the finest scale.
export function sumAmounts(amounts: readonly string[]): string {
  let scale = 0;
  for (const a of amounts) scale = Math.max(scale, (a.split('.')[1] ?? '').length);
  let total = 0n;
  for (const a of amounts) {
    const negative = a.startsWith('-');
    const [whole = '0', fraction = ''] = a.replace(/^-/, '').split('.');
    const units = BigInt(whole + fraction.padEnd(scale, '0'));
    total += negative ? -units : units;
  }
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, '0');
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}
