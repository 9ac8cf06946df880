// Storage failures, black-box: the origin component under wasmtime talks to moto through
// scripts/faultproxy.py, which fails, stalls or drops DynamoDB requests on demand (before or after
// moto applied them). What must hold: bounded answers, retries that never double-count, and
// nothing the origin acknowledged missing from DynamoDB.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dynamo, originCall, raw, startStack } from './stack.mjs';

let env;
before(async () => {
  env = await startStack();
});
after(async () => {
  await env?.stop();
});
afterEach(async () => {
  await fault({ mode: 'none' });
});

const fault = (spec) => raw(env.stack.fault_proxy, 'POST', '/__fault', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
const post = (user, value, key) =>
  originCall(env.stack, 'POST', '/api/numbers', {
    headers: { 'content-type': 'application/json', 'x-verge-user': user, ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify({ value }),
  });
const today = () => new Date().toISOString().slice(0, 10);
const dayStats = async (user) => (await originCall(env.stack, 'GET', `/api/stats/daily?from=${today()}&to=${today()}`, { headers: { 'x-verge-user': user } })).json.days[0];

describe('DynamoDB failing or stalling', () => {
  test('5xx from storage is retried and the write lands once', async () => {
    const user = `retry-${Date.now()}`;
    await fault({ mode: 'fail', count: 2, status: 500 });
    const r = await post(user, 3);
    assert.equal(r.status, 201, r.text);
    assert.equal((await dayStats(user)).count, 1);
  });

  test('a write applied but answered too late is retried without counting twice', async () => {
    const user = `late-${Date.now()}`;
    // The first TransactWriteItems reaches moto, but its answer comes after the origin's timeout.
    await fault({ mode: 'late', count: 1, ms: 1500 });
    const r = await post(user, 4);
    assert.equal(r.status, 201, r.text);
    const day = await dayStats(user);
    assert.deepEqual([day.count, day.sum], [1, 4]);
  });

  test('a dropped connection after the write: the client retry with its Idempotency-Key replays', async () => {
    const user = `drop-${Date.now()}`;
    await fault({ mode: 'drop', count: 8 });
    const first = await post(user, 5, 'drop-1');
    assert.ok(first.status >= 500, `the origin could not confirm: ${first.status}`);
    await fault({ mode: 'none' });
    const retry = await post(user, 5, 'drop-1');
    assert.ok([200, 201].includes(retry.status), retry.text);
    const day = await dayStats(user);
    assert.deepEqual([day.count, day.sum], [1, 5]);
  });

  test('storage that stalls answers 503 within a bounded time, and /health says so', async () => {
    await fault({ mode: 'stall', count: 100, ms: 3000 });
    const started = Date.now();
    const r = await post(`stall-${Date.now()}`, 1);
    const took = Date.now() - started;
    assert.equal(r.status, 503, r.text);
    assert.equal(r.headers['retry-after'], '1');
    assert.ok(took < 8000, `${took} ms`);
    const health = await raw(env.stack.origin, 'GET', '/health');
    assert.equal(health.status, 503);
    assert.equal(health.json.storage, 'unreachable');
  });

  test('nothing acknowledged is lost under random faults', async () => {
    const user = `chaos-${Date.now()}`;
    const acked = [];
    for (let i = 0; i < 20; i += 1) {
      const mode = ['none', 'fail', 'late', 'drop'][i % 4];
      await fault({ mode, count: 1, ms: 1200, status: 500 });
      const r = await post(user, i, `chaos-${i}`);
      if (r.status === 201 || r.status === 200) acked.push(r.json);
    }
    await fault({ mode: 'none' });
    assert.ok(acked.length >= 10, `${acked.length} acknowledged`);
    const stored = await dynamo(env.stack, 'Query', {
      TableName: env.stack.tables.numbers, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: `USER#${user}` } },
    });
    const ids = new Set(stored.Items.map((it) => it.sk.S.split('#')[1]));
    for (const a of acked) assert.ok(ids.has(a.id), `acknowledged ${a.id} is stored`);
    const day = await dayStats(user);
    assert.equal(day.count, stored.Items.length, 'the daily count matches the stored numbers');
  });
});
