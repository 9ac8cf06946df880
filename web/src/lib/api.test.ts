import { afterEach, expect, test, vi } from 'vitest';
import { ApiFailure, api, loginUrl, sessionExpired, setSessionExpiredHandler, withQuery } from './api';

afterEach(() => {
  vi.unstubAllGlobals();
  setSessionExpiredHandler(() => {});
});

test('queries leave out empty parameters and encode the rest', () => {
  expect(withQuery('/api/stats/daily', { from: '2026-11-01', to: '2026-11-30', after: undefined })).toBe('/api/stats/daily?from=2026-11-01&to=2026-11-30');
  expect(withQuery('/x', { cursor: 'a+b/c=', limit: 20, empty: '' })).toBe('/x?cursor=a%2Bb%2Fc%3D&limit=20');
  expect(withQuery('/x')).toBe('/x');
});

test('sign-in returns to the same page, never off the site', () => {
  expect(loginUrl('/connections?x=1')).toBe('/auth/login?return_to=%2Fconnections%3Fx%3D1');
  expect(loginUrl('//evil.example/')).toBe('/auth/login?return_to=%2F');
  expect(loginUrl('https://evil.example/')).toBe('/auth/login?return_to=%2F');
});

test('only a 401 on a session call means the session expired', () => {
  expect(sessionExpired(401, {})).toBe(true);
  expect(sessionExpired(401, { sessionOptional: true })).toBe(false);
  expect(sessionExpired(403, {})).toBe(false);
});

function answer(status: number, body: unknown, headers: Record<string, string> = {}) {
  const fetch = vi.fn(async () => new Response(body === undefined ? null : JSON.stringify(body), { status, headers }));
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

test('the session cookie is the only credential: no token or key header, same-origin, JSON bodies', async () => {
  const fetch = answer(201, { id: 'k1' });
  await api('/api/admin/keys', { method: 'POST', body: { consumer: 'acme' } });
  const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
  expect(url).toBe('/api/admin/keys');
  expect(init.headers).toEqual({ accept: 'application/json', 'content-type': 'application/json' });
  expect(init.credentials).toBe('same-origin');
  expect(init.body).toBe('{"consumer":"acme"}');
  const partner = answer(200, { orders: [] });
  await api('/api/partners/acme/orders', { query: { limit: 20 } });
  const [purl, pinit] = partner.mock.calls[0] as unknown as [string, RequestInit];
  expect(purl).toBe('/api/partners/acme/orders?limit=20');
  expect(pinit.headers).toEqual({ accept: 'application/json' });
  expect(pinit.body).toBeUndefined();
});

test('204 resolves to null; failures throw the problem; a session 401 sends the user to sign in', async () => {
  answer(204, undefined);
  await expect(api('/api/me/connections/bank', { method: 'DELETE' })).resolves.toBeNull();

  answer(400, { title: 'Bad Request', detail: 'bad value', field: 'value' });
  await expect(api('/api/numbers', { method: 'POST', body: { value: 1 } })).rejects.toMatchObject({ problem: { status: 400, field: 'value', detail: 'bad value' } });

  const expired = vi.fn();
  setSessionExpiredHandler(expired);
  answer(401, { title: 'Unauthorized', detail: 'the session has expired' });
  await expect(api('/api/me/accounts')).rejects.toBeInstanceOf(ApiFailure);
  expect(expired).toHaveBeenCalledTimes(1);
  answer(401, { title: 'Unauthorized' });
  await expect(api('/auth/me', { sessionOptional: true })).rejects.toBeInstanceOf(ApiFailure);
  expect(expired).toHaveBeenCalledTimes(1);
  answer(403, { title: 'Forbidden', detail: 'the signed-in user lacks the scope admin' });
  await expect(api('/api/admin/keys')).rejects.toMatchObject({ problem: { status: 403 } });
  expect(expired).toHaveBeenCalledTimes(1);
});

test('an answer that never came is a problem too', async () => {
  vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
  await expect(api('/api/health')).rejects.toMatchObject({ problem: { status: 0, title: 'No answer' } });
});
