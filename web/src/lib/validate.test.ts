import { describe, expect, test } from 'vitest';
import { all, daysInRange, parseCount, parseDayRange, parseId, parseNumber, parseSecret, parseTimeRange, parseUtcTime } from './validate';

const fields = (c: { ok: boolean; errors?: { field: string }[] }) => (c.ok ? [] : c.errors!.map((e) => e.field));

describe('numbers', () => {
  test('takes decimals, signs and exponents', () => {
    for (const [raw, v] of [['42', 42], [' -3.5 ', -3.5], ['1e3', 1000], ['.5', 0.5], ['+7', 7], ['1e300', 1e300]] as const) {
      expect(parseNumber('value', 'Value', raw)).toEqual({ ok: true, value: v });
    }
  });
  test('refuses what is not a number, naming the field', () => {
    for (const raw of ['', '  ', 'abc', '0x10', '1,5', 'NaN', 'Infinity', '1e', '--1']) {
      const c = parseNumber('value', 'Value', raw);
      expect(c.ok).toBe(false);
      expect(fields(c)).toEqual(['value']);
    }
    expect(parseNumber('value', 'Value', '1e400')).toMatchObject({ ok: false, errors: [{ message: 'Value is too large.' }] });
  });
  test('counts are whole and at least 1', () => {
    expect(parseCount('burst', 'Burst', '20')).toEqual({ ok: true, value: 20 });
    for (const raw of ['0', '-1', '1.5', '', 'ten', '99999999999999999999']) expect(parseCount('burst', 'Burst', raw).ok).toBe(false);
  });
});

describe('day ranges', () => {
  test('both ends counted', () => {
    expect(daysInRange('2026-11-01', '2026-11-30')).toBe(30);
    expect(daysInRange('2024-02-28', '2024-03-01')).toBe(3);
  });
  test('a valid range', () => {
    expect(parseDayRange('2026-11-01', '2026-11-30')).toEqual({ ok: true, value: { from: '2026-11-01', to: '2026-11-30' } });
  });
  test('refusals name the field the origin would name', () => {
    expect(fields(parseDayRange('2026-11-30', '2026-11-01'))).toEqual(['to']);
    expect(fields(parseDayRange('yesterday', ''))).toEqual(['from', 'to']);
    expect(fields(parseDayRange('2025-01-01', '2026-01-02'))).toEqual(['to']);
    expect(parseDayRange('2025-01-01', '2026-01-01').ok).toBe(true); // 366 days
  });
});

describe('ids and secrets', () => {
  test('ids as the origin takes them in a path', () => {
    expect(parseId('partner', 'Partner', ' acme-1.eu_2 ')).toEqual({ ok: true, value: 'acme-1.eu_2' });
    for (const raw of ['', '.', '..', 'a/b', 'a b', 'x'.repeat(65), 'ü']) expect(parseId('partner', 'Partner', raw).ok).toBe(false);
  });
  test('secrets are one word', () => {
    expect(parseSecret('token', 'Token', ' pat_1 ')).toEqual({ ok: true, value: 'pat_1' });
    expect(fields(parseSecret('token', 'Token', 'two words'))).toEqual(['token']);
    expect(fields(parseSecret('token', 'Token', ''))).toEqual(['token']);
    expect(parseSecret('token', 'Token', 'x'.repeat(11), 10).ok).toBe(false);
  });
});

describe('event-time ranges', () => {
  test('datetime-local values are read as UTC', () => {
    expect(parseUtcTime('from', 'From', '2026-11-30T10:15')).toEqual({ ok: true, value: '2026-11-30T10:15:00Z' });
    expect(parseUtcTime('from', 'From', '2026-11-30T10:15:30')).toEqual({ ok: true, value: '2026-11-30T10:15:30Z' });
    expect(parseUtcTime('from', 'From', '')).toEqual({ ok: true, value: undefined });
    expect(parseUtcTime('from', 'From', '2026-13-40T10:15').ok).toBe(false);
  });
  test('to must not be before from; open ends are fine', () => {
    expect(fields(parseTimeRange('2026-11-30T10:00', '2026-11-30T09:00'))).toEqual(['to']);
    expect(parseTimeRange('', '2026-11-30T09:00')).toEqual({ ok: true, value: { from: undefined, to: '2026-11-30T09:00:00Z' } });
  });
});

test('all() gathers every error, or every value', () => {
  const bad = all({ a: parseId('a', 'A', ''), b: parseCount('b', 'B', '0') });
  expect(fields(bad)).toEqual(['a', 'b']);
  expect(all({ a: parseId('a', 'A', 'x'), b: parseCount('b', 'B', '2') })).toEqual({ ok: true, value: { a: 'x', b: 2 } });
});
