// The origin's API, black-box: requests signed with the edge's key (as the edge sends them, with
// the identity headers it sets) to the origin component under wasmtime, storage on moto.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dynamo, originCall, postWith, raw, signForOrigin, startStack, sha256Hex } from './stack.mjs';

let env;
before(async () => {
  env = await startStack();
});
after(async () => {
  await env?.stop();
});

const call = (method, path, opts) => originCall(env.stack, method, path, opts);
const json = (v) => ({ body: JSON.stringify(v), headers: { 'content-type': 'application/json' } });
const as = (headers, opts = {}) => ({ ...opts, headers: { ...(opts.headers ?? {}), ...headers } });

describe('numbers with Idempotency-Key', () => {
  test('a retry with the same key returns the same result and writes nothing twice', async () => {
    const user = { 'x-verge-user': `idem-${Date.now()}` };
    const today = new Date().toISOString().slice(0, 10);
    const first = await call('POST', '/api/numbers', as({ ...user, 'idempotency-key': 'k-1' }, json({ value: 5 })));
    assert.equal(first.status, 201, first.text);
    const again = await call('POST', '/api/numbers', as({ ...user, 'idempotency-key': 'k-1' }, json({ value: 5 })));
    assert.equal(again.status, 200);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.deepEqual(again.json, first.json);
    const stats = await call('GET', `/api/stats/daily?from=${today}&to=${today}`, as(user));
    assert.equal(stats.json.days[0].count, 1, 'counted once');
    const other = await call('POST', '/api/numbers', as({ ...user, 'idempotency-key': 'k-1' }, json({ value: 6 })));
    assert.equal(other.status, 422, 'the same key with another body');
    const bad = await call('POST', '/api/numbers', as({ ...user, 'idempotency-key': 'has space' }, json({ value: 6 })));
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'Idempotency-Key');
  });

  test('daily statistics are per caller', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const a = { 'x-verge-user': `a-${Date.now()}` };
    await call('POST', '/api/numbers', as(a, json({ value: 2 })));
    await call('POST', '/api/numbers', as(a, json({ value: -4 })));
    const s = await call('GET', `/api/stats/daily?from=${today}&to=${today}`, as(a));
    assert.deepEqual(s.json.days.map(({ count, sum, min, max, mean }) => ({ count, sum, min, max, mean })), [{ count: 2, sum: -2, min: -4, max: 2, mean: -1 }]);
  });
});

describe('partner orders', () => {
  const partner = `acme-${Date.now()}`;
  const me = { 'x-verge-consumer': partner, 'x-verge-plan': 'basic' };
  const order = (seq, extra = {}) => ({
    sequenceNumber: seq,
    eventTime: new Date(Date.UTC(2026, 10, 1, 0, seq)).toISOString(),
    currency: 'EUR',
    lineItems: [{ sku: 'A', quantity: 2, unitPrice: 1.25 }],
    total: 2.5,
    ...extra,
  });

  test('a batch is accepted, duplicates ignored, invalid orders rejected with reasons', async () => {
    const r = await call('POST', `/api/partners/${partner}/orders`, as(me, json({ orders: [order(1), order(2), order(2), order(3, { total: 9 }), { sequenceNumber: 'x' }] })));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.accepted, [1, 2]);
    assert.deepEqual(r.json.duplicates, [2]);
    assert.deepEqual(r.json.rejected.map((x) => [x.index, x.sequenceNumber]), [[3, 3], [4, null]]);
    assert.match(r.json.rejected[0].reasons[0], /^total: /);
    const again = await call('POST', `/api/partners/${partner}/orders`, as(me, json({ orders: [order(1), order(4)] })));
    assert.deepEqual([again.json.accepted, again.json.duplicates], [[4], [1]]);
  });

  test('rejected orders are kept with a 30-day TTL and listed', async () => {
    const errors = await call('GET', `/api/partners/${partner}/errors`, as(me));
    assert.equal(errors.status, 200, errors.text);
    assert.equal(errors.json.errors.length, 2);
    const stored = await dynamo(env.stack, 'Query', {
      TableName: env.stack.tables.order_errors, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: partner } },
    });
    for (const item of stored.Items) {
      const ttl = Number(item.expires_at.N) - Math.floor(Date.now() / 1000);
      assert.ok(Math.abs(ttl - 30 * 86400) < 120, `TTL ${ttl}s`);
    }
    const ttlSetting = await dynamo(env.stack, 'DescribeTimeToLive', { TableName: env.stack.tables.order_errors });
    assert.equal(ttlSetting.TimeToLiveDescription.AttributeName, 'expires_at');
  });

  test('orders are read by event time, paginated with a cursor that cannot be forged', async () => {
    const batch = Array.from({ length: 20 }, (_, i) => order(100 + i));
    assert.equal((await call('POST', `/api/partners/${partner}/orders`, as(me, json({ orders: batch })))).json.accepted.length, 20);
    const from = '2026-11-01T01:40:00Z'; // minute 100
    const to = '2026-11-01T01:59:59Z'; // minute 119
    const seen = [];
    let cursor = null;
    let pages = 0;
    do {
      const q = `/api/partners/${partner}/orders?from=${from}&to=${to}&limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await call('GET', q, as(me));
      assert.equal(r.status, 200, r.text);
      seen.push(...r.json.orders.map((o) => o.sequenceNumber));
      cursor = r.json.next_cursor;
      pages += 1;
    } while (cursor && pages < 10);
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => 100 + i));
    assert.ok(pages >= 3);

    const first = await call('GET', `/api/partners/${partner}/orders?from=${from}&to=${to}&limit=5`, as(me));
    const c = first.json.next_cursor;
    const [payload, mac] = c.split('.');
    const forgedKey = Buffer.from(Buffer.from(payload, 'base64url').toString().replace(partner, 'globex')).toString('base64url');
    for (const bad of [`${forgedKey}.${mac}`, `${payload}.${mac.slice(0, -2)}AA`, 'junk']) {
      const r = await call('GET', `/api/partners/${partner}/orders?from=${from}&to=${to}&cursor=${encodeURIComponent(bad)}`, as(me));
      assert.equal(r.status, 400);
      assert.equal(r.json.field, 'cursor');
    }
    const moved = await call('GET', `/api/partners/${partner}/orders?from=2026-01-01T00:00:00Z&to=${to}&cursor=${encodeURIComponent(c)}`, as(me));
    assert.equal(moved.status, 400, 'a cursor is bound to its query');
  });

  test('only the partner’s own key may post or read', async () => {
    const other = { 'x-verge-consumer': 'globex' };
    assert.equal((await call('POST', `/api/partners/${partner}/orders`, as(other, json({ orders: [order(9)] })))).status, 403);
    assert.equal((await call('GET', `/api/partners/${partner}/orders`, as(other))).status, 403);
    assert.equal((await call('GET', `/api/partners/${partner}/errors`, {})).status, 403);
  });

  test('line items too large to add up are refused naming the total, not with a wrapped sum', async () => {
    // 100 lines of 10000 x 100000000000.00 overflow 64-bit cents.
    const lineItems = Array.from({ length: 100 }, (_, i) => ({ sku: `S${i}`, quantity: 10000, unitPrice: 1e11 }));
    const r = await call('POST', `/api/partners/${partner}/orders`, as(me, json({ orders: [order(50, { lineItems, total: 1e11 })] })));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.rejected, [
      { index: 0, sequenceNumber: 50, reasons: ['total: the line items add up to more than 100000000000.00, the largest total'] },
    ]);
  });

  test('batch limits and malformed bodies name the field', async () => {
    const big = await call('POST', `/api/partners/${partner}/orders`, as(me, json({ orders: Array.from({ length: 101 }, (_, i) => order(i)) })));
    assert.equal(big.status, 400);
    assert.equal(big.json.field, 'orders');
    const bad = await call('GET', `/api/partners/${partner}/orders?limit=0`, as(me));
    assert.equal(bad.json.field, 'limit');
  });
});

describe('API keys', () => {
  const admin = { 'x-verge-user': 'ops', 'x-verge-scopes': 'read admin' };

  test('create returns the secret once, stores only its hash, lookup by hash, revoke', async () => {
    const created = await call('POST', '/api/admin/keys', as(admin, json({ consumer: 'acme', plan: { rate_per_second: 5, burst: 10, quota_per_day: 1000 } })));
    assert.equal(created.status, 201, created.text);
    assert.match(created.json.key, /^vk_[0-9a-f]{64}$/);
    const hash = await sha256Hex(created.json.key);

    const table = await dynamo(env.stack, 'Scan', { TableName: env.stack.tables.api_keys });
    assert.ok(!JSON.stringify(table).includes(created.json.key), 'the secret is not stored');
    assert.ok(JSON.stringify(table).includes(hash));

    const list = await call('GET', '/api/admin/keys', as(admin));
    const listed = list.json.keys.find((k) => k.id === created.json.id);
    assert.deepEqual(listed.plan, { rate_per_second: 5, burst: 10, quota_per_day: 1000 });
    assert.equal(listed.key, undefined);

    const found = await call('GET', '/api/keys/lookup', { headers: { 'x-verge-api-key-hash': hash } });
    assert.equal(found.status, 200);
    assert.equal(found.json.consumer, 'acme');

    assert.equal((await call('DELETE', `/api/admin/keys/${created.json.id}`, as(admin))).status, 204);
    assert.equal((await call('GET', '/api/keys/lookup', { headers: { 'x-verge-api-key-hash': hash } })).status, 404);
    assert.equal((await call('DELETE', `/api/admin/keys/${created.json.id}`, as(admin))).status, 404);
  });

  test('admin routes need the admin scope; bad plans name the field', async () => {
    assert.equal((await call('GET', '/api/admin/keys', as({ 'x-verge-user': 'u', 'x-verge-scopes': 'read' }))).status, 403);
    const bad = await call('POST', '/api/admin/keys', as(admin, json({ consumer: 'acme', plan: { rate_per_second: 0, burst: 1, quota_per_day: 1 } })));
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'plan.rate_per_second');
  });
});

describe('limits', () => {
  test('bodies over 256 KB answer 413 with a problem body', async () => {
    const r = await call('POST', '/api/numbers', json({ value: 1, pad: 'x'.repeat(262_144) }));
    assert.equal(r.status, 413);
    assert.equal(r.json.type, 'https://verge.dev/problems/body-too-large');
  });

  // The body is checked before it is read whole (and before the signature): a declared length over
  // the limit is refused without waiting for the body; a chunked one is cut off at the limit.
  const post = (headers, write) => postWith(`${env.stack.origin}/api/numbers`, headers, write);

  test('a Content-Length over the limit answers 413 before the body arrives', async () => {
    const t0 = Date.now();
    // Only 10 bytes of the declared 300 KB are ever sent: an answer means nothing waited for the rest.
    const r = await post({ 'content-type': 'application/json', 'content-length': String(300 * 1024) }, (req) => req.write('{"value":1'));
    assert.equal(r.status, 413);
    assert.equal(r.json.type, 'https://verge.dev/problems/body-too-large');
    assert.ok(Date.now() - t0 < 5000);
  });

  test('a chunked body over the limit is cut off at the limit: 413', async () => {
    const r = await post({ 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, (req) => {
      for (let i = 0; i < 20; i += 1) req.write('x'.repeat(16 * 1024));
      req.end();
    });
    assert.equal(r.status, 413);
    assert.equal(r.json.type, 'https://verge.dev/problems/body-too-large');
  });
});

describe('the signed path is the routed path', () => {
  const signedFor = (method, path) => signForOrigin(env.stack, { method, url: `${env.stack.origin}${path}`, headers: { 'x-verge-user': 'path-test' } });

  test('dot segments answer 400 naming the path, signed or not', async () => {
    for (const path of ['/api/stats/../numbers', '/api/./numbers', '/api/admin/keys/..', '/api/me/connections/%2e%2E']) {
      const r = await raw(env.stack.origin, 'POST', path, { headers: await signedFor('POST', path), body: '' });
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.equal(r.json.field, 'path');
    }
  });

  test('a signature for one path does not verify another that normalises to it', async () => {
    const query = '?from=2026-01-01&to=2026-01-02';
    const headers = await signedFor('GET', `/api/stats/daily${query}`);
    assert.equal((await raw(env.stack.origin, 'GET', `/api/stats/daily${query}`, { headers })).status, 200);
    for (const path of ['/api//stats/daily', '/api/stats//daily']) {
      const r = await raw(env.stack.origin, 'GET', `${path}${query}`, { headers });
      assert.equal(r.status, 403, `${path}: ${r.text}`);
    }
  });

  test('the credential scope date must be exactly the date of x-amz-date', async () => {
    const path = '/api/stats/daily?from=2026-01-01&to=2026-01-02';
    const headers = await signedFor('GET', path);
    assert.equal((await raw(env.stack.origin, 'GET', path, { headers })).status, 200);
    const day = headers['x-amz-date'].slice(0, 8);
    for (const date of [day.slice(0, 4), day.slice(0, 6), '']) {
      const edited = { ...headers, authorization: headers.authorization.replace(`/${day}/`, `/${date}/`) };
      const r = await raw(env.stack.origin, 'GET', path, { headers: edited });
      assert.equal(r.status, 403, `credential date ${JSON.stringify(date)}: ${r.text}`);
    }
  });
});
