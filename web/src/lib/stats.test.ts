import { expect, test } from 'vitest';
import { isoDay, lastDays, series, summary, type DayStats } from './stats';

const day = (date: string, values: number[]): DayStats => ({
  date,
  count: values.length,
  sum: values.reduce((a, b) => a + b, 0),
  min: Math.min(...values),
  max: Math.max(...values),
  mean: values.reduce((a, b) => a + b, 0) / values.length,
});

test('the last N days end today, in UTC', () => {
  expect(lastDays(new Date('2026-11-30T23:59:00Z'), 30)).toEqual({ from: '2026-11-01', to: '2026-11-30' });
  expect(lastDays(new Date('2026-03-01T00:00:00Z'), 2)).toEqual({ from: '2026-02-28', to: '2026-03-01' });
  expect(isoDay(new Date('2026-11-30T00:00:00Z'))).toBe('2026-11-30');
});

test('every day of the range is a point; days without numbers count 0 and have no values', () => {
  const s = series('2026-11-28', '2026-11-30', [day('2026-11-29', [1, 5])]);
  expect(s[0]).toEqual([Date.parse('2026-11-28T00:00:00Z') / 1000, Date.parse('2026-11-29T00:00:00Z') / 1000, Date.parse('2026-11-30T00:00:00Z') / 1000]);
  expect(s[1]).toEqual([0, 2, 0]);
  expect(s[2]).toEqual([null, 3, null]);
  expect(s[3]).toEqual([null, 1, null]);
  expect(s[4]).toEqual([null, 5, null]);
});

test('a range across a DST change still has one point per day', () => {
  expect(series('2026-03-27', '2026-03-31', [])[0]).toHaveLength(5);
  expect(series('2024-01-01', '2024-12-31', [])[0]).toHaveLength(366);
});

test('the chart summary for screen readers', () => {
  expect(summary('2026-11-01', '2026-11-30', [])).toBe('No numbers from 2026-11-01 to 2026-11-30.');
  expect(summary('2026-11-01', '2026-11-30', [day('2026-11-02', [3]), day('2026-11-05', [-1, 9])])).toBe(
    '3 numbers on 2 days from 2026-11-01 to 2026-11-30, between -1 and 9.',
  );
});
