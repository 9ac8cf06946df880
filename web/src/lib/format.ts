// How values read on the page.

/** A number with at most 6 decimals, without trailing zeros. */
export function num(x: number): string {
  return String(Number(x.toFixed(6)));
}

/** `2026-11-30T10:15:00.000Z` -> `2026-11-30 10:15:00 UTC`. */
export function utc(iso: string | null | undefined): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}

/** Seconds since the epoch as `utc()` shows them. */
export function utcSeconds(s: number | null | undefined): string {
  return s == null ? '' : utc(new Date(s * 1000).toISOString());
}

/** An amount with its currency: `1523.40 EUR`. */
export function money(amount: number | string, currency: string): string {
  const n = typeof amount === 'number' ? amount.toFixed(2) : amount;
  return `${n} ${currency}`;
}
