// The token vault and the external bank API, black-box: the origin component under wasmtime,
// DynamoDB on moto, and scripts/fakebank.py standing in for the bank (plain HTTP, real failures).
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dynamo, originCall, raw, startStack } from './stack.mjs';

let env;
before(async () => {
  env = await startStack();
});
after(async () => {
  await env?.stop();
});

const TOKEN = 'pat_live_5f1d2c3b4a69788796a5b4c3d2e1f0a9';
const user = (id) => ({ 'x-verge-user': id });
const call = (method, path, headers, body) => originCall(env.stack, method, path, { headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? '' : JSON.stringify(body) });
const bank = async (method, path, body) => raw(env.stack.bank, method, path, { headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
const plan = (steps) => bank('POST', '/_control', { plan: steps });
const calls = async () => (await bank('GET', '/_stats')).json.calls;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

beforeEach(async () => {
  await bank('POST', '/_reset', {});
});

describe('token vault', () => {
  test('the token is stored encrypted, never returned, and used as the bearer token', async () => {
    const u = user(`vault-${Date.now()}`);
    const put = await call('PUT', '/api/me/connections/bank', u, { token: TOKEN });
    assert.equal(put.status, 204);
    assert.equal(put.text, '');

    const item = await dynamo(env.stack, 'GetItem', { TableName: env.stack.tables.vault, Key: { pk: { S: `USER#${u['x-verge-user']}` }, sk: { S: 'bank' } } });
    const stored = JSON.stringify(item);
    assert.ok(!stored.includes(TOKEN) && !stored.includes(Buffer.from(TOKEN).toString('base64')), 'the stored item does not contain the token');
    assert.equal(item.Item.kek_id.S, 'dev1');
    assert.ok(item.Item.dek.S.length > 40 && item.Item.token.S.length > 40);

    const accounts = await call('GET', '/api/me/accounts', u);
    assert.equal(accounts.status, 200, accounts.text);
    assert.deepEqual(accounts.json.accounts[0], { id: 'acc-1', name: 'Everyday', iban_last4: '3000', balance: '1523.40', currency: 'EUR' });
    assert.ok(!accounts.text.includes(TOKEN) && !accounts.text.includes('owner') && !accounts.text.includes('DE8937'), 'only what the app shows');
    assert.equal((await bank('GET', '/_stats')).json.last_authorization, `Bearer ${TOKEN}`);

    assert.equal((await call('DELETE', '/api/me/connections/bank', u)).status, 204);
    assert.equal((await call('GET', '/api/me/accounts', u)).status, 404);
    assert.equal((await call('DELETE', '/api/me/connections/bank', u)).status, 404);
  });

  test('transactions page through a sealed cursor bound to the user', async () => {
    const u = user(`tx-${Date.now()}`);
    await call('PUT', '/api/me/connections/bank', u, { token: TOKEN });
    const ids = [];
    let cursor = null;
    for (let i = 0; i < 5; i += 1) {
      const r = await call('GET', `/api/me/transactions${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`, u);
      assert.equal(r.status, 200, r.text);
      ids.push(...r.json.transactions.map((t) => t.id));
      assert.deepEqual(Object.keys(r.json.transactions[0]).sort(), ['amount', 'currency', 'date', 'description', 'id']);
      cursor = r.json.next_cursor;
      if (!cursor) break;
      assert.ok(!cursor.includes('c3') || cursor.includes('.'), 'the bank cursor travels sealed');
      const stolen = await call('GET', `/api/me/transactions?cursor=${encodeURIComponent(cursor)}`, user('someone-else'));
      assert.equal(stolen.status, 400);
    }
    assert.deepEqual(ids, ['tx-0', 'tx-1', 'tx-2', 'tx-3', 'tx-4', 'tx-5', 'tx-6']);
  });

  test('bad input: unknown provider, missing user, malformed token', async () => {
    assert.equal((await call('PUT', '/api/me/connections/other', user('u1'), { token: TOKEN })).status, 404);
    assert.equal((await call('PUT', '/api/me/connections/bank', {}, { token: TOKEN })).status, 403);
    const bad = await call('PUT', '/api/me/connections/bank', user('u1'), { token: 'has space' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'token');
  });

  test('a revoked token at the bank is reported, not retried', async () => {
    const u = user(`revoked-${Date.now()}`);
    await call('PUT', '/api/me/connections/bank', u, { token: 'not_a_pat' });
    const r = await call('GET', '/api/me/accounts', u);
    assert.equal(r.status, 502);
    assert.match(r.json.detail, /connect the account again/);
    assert.equal(await calls(), 1);
  });
});

describe('bank failures', () => {
  const u = user(`resilience-${Date.now()}`);
  before(async () => {
    await call('PUT', '/api/me/connections/bank', u, { token: TOKEN });
  });

  test('429 and 500 are retried with backoff, then succeed', async () => {
    await plan([{ status: 429, retry_after: 1 }, { status: 500 }]);
    const started = Date.now();
    const r = await call('GET', '/api/me/accounts', u);
    assert.equal(r.status, 200, r.text);
    assert.equal(await calls(), 3);
    assert.ok(Date.now() - started >= 1000, 'Retry-After: 1 was honoured');
  });

  test('a bank slower than the timeout answers 504 within bounded time', async () => {
    await plan([{ delay_ms: 3000 }, { delay_ms: 3000 }, { delay_ms: 3000 }]);
    const started = Date.now();
    const r = await call('GET', '/api/me/accounts', u);
    assert.equal(r.status, 504, r.text);
    assert.ok(Date.now() - started < 6000, `${Date.now() - started} ms`);
  });

  test('the breaker opens after repeated failures, fails fast, and closes after a good probe', async () => {
    await bank('POST', '/_reset', {});
    // The previous test left one failed call; two more failing calls (3 attempts each) open it.
    await plan(Array.from({ length: 30 }, () => ({ status: 503 })));
    // Threshold 3 (set by the test stack): a few failing calls, each retried 3 times, open it;
    // from then on a call fails fast without reaching the bank.
    let failedCalls = 0;
    let fast = null;
    for (let i = 0; i < 6 && !fast; i += 1) {
      const before = await calls();
      const r = await call('GET', '/api/me/accounts', u);
      assert.equal(r.status, 503, r.text);
      if ((await calls()) === before) fast = r;
      else failedCalls += 1;
    }
    assert.ok(fast, 'the breaker opened');
    assert.ok(failedCalls <= 3, `${failedCalls} failing calls before it opened`);
    assert.equal(fast.json.type, 'https://verge.dev/problems/dependency-unavailable');
    assert.ok(Number(fast.headers['retry-after']) >= 1);

    await bank('POST', '/_control', { plan: [] });
    await sleep(1600);
    const probe = await call('GET', '/api/me/accounts', u);
    assert.equal(probe.status, 200, probe.text);
    assert.equal((await call('GET', '/api/me/accounts', u)).status, 200, 'closed again');
  });
});
