import { expect, test } from 'vitest';
import { describe as line, networkProblem, problemFrom } from './problem';

test('an origin 400 keeps its title, detail and field', () => {
  const p = problemFrom(400, 'Bad Request', { type: 'https://verge.dev/problems/invalid', title: 'Bad Request', status: 400, detail: '`value` must be between -1e15 and 1e15', field: 'value' });
  expect(p).toEqual({ status: 400, title: 'Bad Request', detail: '`value` must be between -1e15 and 1e15', field: 'value' });
  expect(line(p)).toBe('Bad Request: `value` must be between -1e15 and 1e15');
});

test('a 503 carries Retry-After', () => {
  expect(problemFrom(503, 'Service Unavailable', { title: 'Service Unavailable', detail: 'the bank is unavailable; try again in 1 s' }, '1')).toMatchObject({ retryAfter: 1 });
  expect(problemFrom(503, '', {}, 'Wed, 21 Oct 2026 07:28:00 GMT').retryAfter).toBeUndefined();
});

test('a body that is not a problem still gives a title', () => {
  expect(problemFrom(502, 'Bad Gateway', null)).toEqual({ status: 502, title: 'Bad Gateway', detail: '' });
  expect(problemFrom(500, '', 'oops')).toEqual({ status: 500, title: 'HTTP 500', detail: '' });
  expect(problemFrom(404, 'Not Found', { title: 42, detail: '' })).toEqual({ status: 404, title: 'Not Found', detail: '' });
  expect(line(problemFrom(404, 'Not Found', {}))).toBe('Not Found');
});

test('a request that got no answer', () => {
  expect(networkProblem(new TypeError('Failed to fetch'))).toMatchObject({ status: 0, detail: expect.stringContaining('Failed to fetch') });
});
