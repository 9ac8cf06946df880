// Storage failures, black-box: the origin component under wasmtime talks to moto through
// scripts/faultproxy.py, which fails, stalls or drops DynamoDB requests on demand (before or after
// moto applied them). What must hold: bounded answers, retries that never double-count, and
// nothing the origin acknowledged missing from DynamoDB.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
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

// DynamoDB remembers a TransactWriteItems ClientRequestToken for 10 minutes; moto does not, so the
// fault proxy plays that part (scripts/faultproxy.py quotes the documentation).
describe('ClientRequestToken, as DynamoDB answers it', () => {
  /** A TransactWriteItems through the fault proxy, signed for moto as the origin signs it. */
  const transact = async (payload) => {
    const [accessKeyId, secretAccessKey] = env.stack.keys['verge-deployer'];
    const signer = new SignatureV4({ service: 'dynamodb', region: env.stack.region, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256 });
    const u = new URL(env.stack.moto);
    const body = JSON.stringify(payload);
    const signed = await signer.sign({
      method: 'POST', protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: '/',
      headers: { host: u.host, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.TransactWriteItems' },
      body,
    });
    return raw(env.stack.fault_proxy, 'POST', '/', { headers: signed.headers, body });
  };
  const put = (sk) => ({
    Put: { TableName: env.stack.tables.numbers, Item: { pk: { S: 'TOKEN#test' }, sk: { S: sk } }, ConditionExpression: 'attribute_not_exists(pk)' },
  });

  test('the same token and items within 10 minutes answer the first success without writing; other items are a 400 mismatch', async () => {
    const token = `t-${Date.now()}`;
    const sk = `${token}-a`;
    const first = await transact({ TransactItems: [put(sk)], ClientRequestToken: token });
    assert.equal(first.status, 200, first.text);
    // Run again, the Put's condition would fail: a 200 means it was not run again.
    const again = await transact({ TransactItems: [put(sk)], ClientRequestToken: token });
    assert.equal(again.status, 200, again.text);
    const other = await transact({ TransactItems: [put(`${token}-b`)], ClientRequestToken: token });
    assert.equal(other.status, 400);
    assert.equal(other.json.__type, 'com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException');
    const stored = await dynamo(env.stack, 'Query', {
      TableName: env.stack.tables.numbers, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'TOKEN#test' } },
    });
    assert.deepEqual(stored.Items.map((it) => it.sk.S).filter((k) => k.startsWith(token)), [sk], 'written once, the mismatch not at all');
  });

  test('a retry with the same Idempotency-Key within 10 minutes replays, after a success and after a lost answer', async () => {
    const user = `token-${Date.now()}`;
    const first = await post(user, 7, 'tok-1');
    assert.equal(first.status, 201, first.text);
    const retry = await post(user, 7, 'tok-1');
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.deepEqual(retry.json, first.json);
    // The answer lost on the way back: the origin cannot confirm, the client retries.
    await fault({ mode: 'drop', count: 8 });
    const lost = await post(user, 8, 'tok-2');
    assert.ok(lost.status >= 500, `the origin could not confirm: ${lost.status}`);
    await fault({ mode: 'none' });
    const again = await post(user, 8, 'tok-2');
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    const day = await dayStats(user);
    assert.deepEqual([day.count, day.sum], [2, 15]);
  });

  test('an answer lost inside one request: the origin retries with the same token and items, and DynamoDB confirms', async () => {
    const user = `token-late-${Date.now()}`;
    await fault({ mode: 'late', count: 1, ms: 1500 });
    const r = await post(user, 9, 'tok-late');
    assert.equal(r.status, 201, r.text);
    assert.equal(r.headers['idempotent-replayed'], undefined, 'the write is this request\'s own, not a replay');
    assert.equal((await dayStats(user)).count, 1);
  });
});
