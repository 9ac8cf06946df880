import { expect, test } from 'vitest';
import { answered, back, cursorOf, firstPage, forward } from './paging';
import { recent, type Rejected } from './orders';

test('forward follows next_cursor; back returns to the cursors seen', () => {
  let p = firstPage();
  expect(cursorOf(p)).toBeNull();
  expect(forward(p)).toBe(p); // no next page yet
  p = answered(p, 'c1');
  p = forward(p);
  expect(cursorOf(p)).toBe('c1');
  p = forward(answered(p, 'c2'));
  expect(cursorOf(p)).toBe('c2');
  expect(p.index).toBe(2);
  p = answered(p, null); // the last page
  expect(forward(p)).toBe(p);
  p = back(p);
  expect(cursorOf(p)).toBe('c1');
  expect(p.next).toBe('c2');
  p = back(back(p));
  expect(p.index).toBe(0);
  expect(cursorOf(p)).toBeNull();
});

test('going back then forward to another cursor drops the old tail', () => {
  let p = forward(answered(forward(answered(firstPage(), 'a')), 'b'));
  p = back(back(p));
  p = forward(answered(p, 'a2'));
  expect(p.cursors).toEqual([null, 'a2']);
});

test('rejections older than 30 days are not shown even if storage still holds them', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  const r = (expiresAt: number | null): Rejected => ({ index: 0, sequenceNumber: 1, reasons: ['x'], order: '{}', receivedAt: null, expiresAt });
  const kept = recent([r(now / 1000 + 60), r(now / 1000 - 60), r(null)], now);
  expect(kept.map((e) => e.expiresAt)).toEqual([now / 1000 + 60, null]);
});
