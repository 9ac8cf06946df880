// Form checks the page makes before calling the API. Each refusal names its field (the input's
// id, which is also the API's field name, so an origin 400 lands on the same input). Checks the
// page cannot know (ranges the origin decides, such as a number's largest magnitude or a plan's
// ceilings) are left to the origin, whose 400 is shown the same way.

export interface FieldError {
  field: string;
  message: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

const fail = <T>(errors: FieldError[]): Checked<T> => ({ ok: false, errors });

/** A decimal number as typed: `12`, `-3.5`, `1e3`; not empty, not `NaN`, not `0x10`. */
export function parseNumber(field: string, label: string, raw: string): Checked<number> {
  const t = raw.trim();
  if (t === '') return fail([{ field, message: `${label} is required.` }]);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return fail([{ field, message: `${label} must be a number, such as 42 or -3.5.` }]);
  const value = Number(t);
  if (!Number.isFinite(value)) return fail([{ field, message: `${label} is too large.` }]);
  return { ok: true, value };
}

/** A whole number of at least 1. */
export function parseCount(field: string, label: string, raw: string): Checked<number> {
  const t = raw.trim();
  if (!/^\d+$/.test(t) || Number(t) < 1 || !Number.isSafeInteger(Number(t))) {
    return fail([{ field, message: `${label} must be a whole number of at least 1.` }]);
  }
  return { ok: true, value: Number(t) };
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MS_PER_DAY = 86_400_000;

/** Days between two YYYY-MM-DD dates, both counted. */
export function daysInRange(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / MS_PER_DAY) + 1;
}

/** The origin's longest range for daily statistics. */
export const MAX_RANGE_DAYS = 366;

/** A range of days (YYYY-MM-DD, UTC) for the daily statistics. */
export function parseDayRange(from: string, to: string): Checked<{ from: string; to: string }> {
  const errors: FieldError[] = [];
  const valid = (d: string) => DAY.test(d) && !Number.isNaN(Date.parse(`${d}T00:00:00Z`));
  if (!valid(from)) errors.push({ field: 'from', message: 'From must be a date (YYYY-MM-DD).' });
  if (!valid(to)) errors.push({ field: 'to', message: 'To must be a date (YYYY-MM-DD).' });
  if (errors.length) return fail(errors);
  if (to < from) return fail([{ field: 'to', message: 'To must not be before From.' }]);
  if (daysInRange(from, to) > MAX_RANGE_DAYS) return fail([{ field: 'to', message: `The range is at most ${MAX_RANGE_DAYS} days.` }]);
  return { ok: true, value: { from, to } };
}

/** A partner, consumer or key id as the origin takes it in a path: 1-64 of A-Z a-z 0-9 . _ - */
export function parseId(field: string, label: string, raw: string): Checked<string> {
  const t = raw.trim();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(t) || t === '.' || t === '..') {
    return fail([{ field, message: `${label} must be 1 to 64 letters, digits, '.', '_' or '-'.` }]);
  }
  return { ok: true, value: t };
}

/** A secret pasted into a form (a bank token, an API key, an access token): one word. */
export function parseSecret(field: string, label: string, raw: string, maxLength = 4096): Checked<string> {
  const t = raw.trim();
  if (t === '') return fail([{ field, message: `${label} is required.` }]);
  if (/\s/.test(t) || t.length > maxLength) return fail([{ field, message: `${label} must be one word of at most ${maxLength} characters, without spaces.` }]);
  return { ok: true, value: t };
}

/**
 * A `datetime-local` value read as UTC (`2026-11-30T10:15` -> `2026-11-30T10:15:00Z`); empty is
 * no bound.
 */
export function parseUtcTime(field: string, label: string, raw: string): Checked<string | undefined> {
  const t = raw.trim();
  if (t === '') return { ok: true, value: undefined };
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})?$/.exec(t);
  const iso = m ? `${m[1]}T${m[2]}${m[3] ?? ':00'}Z` : '';
  if (!m || Number.isNaN(Date.parse(iso))) return fail([{ field, message: `${label} must be a date and time, such as 2026-11-30T10:15.` }]);
  return { ok: true, value: iso };
}

/** An event-time range for the orders list; `to` must not be before `from`. */
export function parseTimeRange(from: string, to: string): Checked<{ from?: string; to?: string }> {
  const f = parseUtcTime('from', 'From', from);
  const t = parseUtcTime('to', 'To', to);
  const errors = [...(f.ok ? [] : f.errors), ...(t.ok ? [] : t.errors)];
  if (!f.ok || !t.ok) return fail(errors);
  if (f.value && t.value && t.value < f.value) return fail([{ field: 'to', message: 'To must not be before From.' }]);
  return { ok: true, value: { from: f.value, to: t.value } };
}

/** Runs several checks; all their errors, or all their values. */
export function all<T extends Record<string, Checked<unknown>>>(checks: T): Checked<{ [K in keyof T]: T[K] extends Checked<infer V> ? V : never }> {
  const errors = Object.values(checks).flatMap((c) => (c.ok ? [] : c.errors));
  if (errors.length) return fail(errors);
  const value = Object.fromEntries(Object.entries(checks).map(([k, c]) => [k, (c as { value: unknown }).value]));
  return { ok: true, value: value as never };
}
