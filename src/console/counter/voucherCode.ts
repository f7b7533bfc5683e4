// How a voucher code is shown to the cashier: in two groups of five (ABCDE-FGHJK), easier to read
// back to a customer. Input is never rewritten here beyond trimming: the API normalises what people
// type (case, dashes, spaces, O for 0, I or L for 1) in one place, src/redemption/vouchers.ts.
export function displayCode(code: string): string {
  return code.length === 10 ? `${code.slice(0, 5)}-${code.slice(5)}` : code;
}

/**
 * What a scanned QR code carries: the code itself, or a link with the code in its `code` parameter
 * (or as its last path segment). Only the code is taken out; the API still normalises it.
 */
export function codeFromScan(text: string): string {
  const trimmed = text.trim();
  try {
    const url = new URL(trimmed);
    return (url.searchParams.get('code') ?? url.pathname.split('/').filter(Boolean).pop() ?? trimmed).trim();
  } catch {
    return trimmed;
  }
}
