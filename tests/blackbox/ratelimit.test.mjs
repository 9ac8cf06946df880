// Rate limits and access rules, black-box on both runtimes, with the shipped edge/edge.toml:
// `numbers-per-ip` (POST /api/numbers: 10 at once, then one every 2 s; global, fails open),
// `partners` (per API key's consumer, the key's plan; global, fails closed), `partners-guard`
// (refused credentials per address), `login-per-ip`, and the `operators` access rule on
// /api/admin/*. Global limits live in Redis on Spin (two host processes share it) and in a
// Durable Object per key on Workers (two isolates share the namespace).
//
// Many clients: on Spin the edge keys by the connection's peer (`spin-client-addr`, set by the
// host), so each simulated client connects from its own loopback address (Linux routes all of
// 127/8 to lo). On Workers the edge keys by CF-Connecting-IP: Cloudflare sets it (a client's own
// value never gets through), but miniflare only fills it in when the request has none, so these
// tests send it to play distinct clients.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT, edgeWorker, startStack } from './stack.mjs';

let env;
before(async () => {
  env = await startStack({ secondEdge: true });
});
after(async () => {
  await env?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const parse = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

// A fresh client address for each simulated client (never 127.0.0.1, which the access rule admits).
let clients = 0;
const addr = () => {
  clients += 1;
  return `127.77.${Math.floor(clients / 250)}.${(clients % 250) + 1}`;
};

/** One HTTP request over a fresh connection, from `localAddress` when given. */
function request(base, method, p, { headers = {}, body, localAddress } = {}) {
  const u = new URL(base);
  const h = body === undefined ? headers : { 'content-length': Buffer.byteLength(body), ...headers };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: p, headers: h, localAddress, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, headers: res.headers, text, json: parse(text) });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A fetcher's answer in the shape of `request`'s. */
async function fromFetch(r) {
  const text = await r.text();
  return { status: r.status, headers: Object.fromEntries(r.headers), text, json: parse(text) };
}

/**
 * A request to edge instance 1 or 2 of `runtime`, as the client at address `from` (on Spin the
 * connection's source address; on Workers CF-Connecting-IP). Without `from`: 127.0.0.1.
 */
async function send(runtime, instance, method, p, { from, headers = {}, body } = {}) {
  if (runtime === 'workers') {
    const h = from ? { ...headers, 'cf-connecting-ip': from } : headers;
    if (instance === 2) return fromFetch(await env.workers2.fetch(`http://edge2.verge.test${p}`, { method, headers: h, body, redirect: 'manual' }));
    return request(env.edges.workers, method, p, { headers: h, body });
  }
  const base = instance === 2 ? env.stack.edge2 : env.stack.edge;
  return request(base, method, p, { headers, body, localAddress: from });
}

const postNumber = (runtime, instance, from, headers = {}) =>
  send(runtime, instance, 'POST', '/api/numbers', { from, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ value: 7 }) });

const adminToken = () => env.issuer.mint({ claims: { scope: 'read admin', sub: 'rate-admin' } });

/** An API key made through the Spin edge's admin API (keys live at the origin, for both edges). */
async function createKey(consumer, plan) {
  const r = await send('spin', 1, 'POST', '/api/admin/keys', {
    headers: { authorization: `Bearer ${adminToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ consumer, plan }),
  });
  assert.equal(r.status, 201, r.text);
  return r.json.key;
}

/** A partner request the origin answers without storage (an unknown feed: 404 once admitted). */
const partnerCall = (runtime, instance, consumer, key, { from, headers = {} } = {}) =>
  send(runtime, instance, 'GET', `/api/partners/${consumer}/feed-x`, { from, headers: { 'x-api-key': key, ...headers } });

/** Sends until one is refused (at most `max`); the admitted count and how long it took. */
async function untilRefused(sendOne, max) {
  const t0 = Date.now();
  let admitted = 0;
  let last;
  for (let i = 0; i < max; i += 1) {
    last = await sendOne(i);
    if (last.status === 429) break;
    // Admitted: whatever the edge let through (a 201, the login redirect, the origin's 404).
    assert.ok(last.status < 500 && ![401, 403].includes(last.status), `${last.status} ${last.text}`);
    admitted += 1;
  }
  return { admitted, last, seconds: (Date.now() - t0) / 1000 };
}

/** `total` requests from `concurrency` clients at once; the statuses and the time taken. */
async function burst(total, concurrency, sendOne) {
  let next = 0;
  const statuses = [];
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, client) => {
      while (next < total) {
        next += 1;
        statuses.push((await sendOne(client)).status);
      }
    }),
  );
  const count = (s) => statuses.filter((x) => x === s).length;
  return { statuses, count, seconds: (Date.now() - t0) / 1000 };
}

const secondsToUtcMidnight = () => {
  const now = Date.now();
  const midnight = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate() + 1);
  return (midnight - now) / 1000;
};

for (const runtime of ['spin', 'workers']) {
  describe(`rate limits on the ${runtime} edge`, () => {
    test('the burst used up gives 429 with Retry-After, RateLimit-Policy and RateLimit; a slot frees after Retry-After', async () => {
      const from = addr();
      const remaining = [];
      const run = await untilRefused(async () => {
        const r = await postNumber(runtime, 1, from);
        assert.equal(r.headers['ratelimit-policy'], '"numbers-per-ip";q=30;w=60', 'every answer states the policy');
        if (r.status === 201) remaining.push(Number(/^"numbers-per-ip";r=(\d+);t=\d+$/.exec(r.headers.ratelimit)?.[1]));
        return r;
      }, 20);
      // 10 at once, plus one per 2 s that passed while sending (GCRA: one every window / limit).
      assert.ok(run.admitted >= 10 && run.admitted <= 10 + Math.ceil(run.seconds / 2), `${run.admitted} admitted in ${run.seconds} s`);
      assert.equal(remaining[0], 9, 'RateLimit counts down from the burst');
      assert.equal(remaining.at(-1), 0);
      const refused = run.last;
      assert.equal(refused.status, 429);
      assert.equal(refused.headers['content-type'], 'application/problem+json');
      assert.equal(refused.json.status, 429);
      const retry = Number(refused.headers['retry-after']);
      assert.ok(retry >= 1 && retry <= 2, `Retry-After ${refused.headers['retry-after']}`);
      assert.equal(refused.headers['ratelimit-policy'], '"numbers-per-ip";q=30;w=60');
      assert.equal(refused.headers.ratelimit, `"numbers-per-ip";r=0;t=${retry}`);

      const id = `rl-${runtime}-${crypto.randomUUID()}`;
      const again = await postNumber(runtime, 1, from, { 'x-request-id': id });
      assert.equal(again.status, 429);
      assert.equal((await env.accessLog(runtime, id)).rate_limit, 'numbers-per-ip', 'the access log names the limit');

      await sleep(retry * 1000 + 100);
      assert.equal((await postNumber(runtime, 1, from)).status, 201, 'admitted again after Retry-After');
      assert.equal((await postNumber(runtime, 1, from)).status, 429, 'one slot came back, not the whole burst');
      assert.equal((await postNumber(runtime, 1, addr())).status, 201, 'another client has its own allowance');
    });

    test('two edge instances share one global limit', async () => {
      const from = addr();
      const run = await untilRefused((i) => postNumber(runtime, (i % 2) + 1, from), 30);
      assert.ok(run.admitted >= 10 && run.admitted <= 10 + Math.ceil(run.seconds / 2), `${run.admitted} admitted across both instances in ${run.seconds} s (20 if each counted alone)`);
      assert.equal((await postNumber(runtime, 1, from)).status, 429, 'refused on instance 1');
      assert.equal((await postNumber(runtime, 2, from)).status, 429, 'refused on instance 2');
    });

    test('a burst from many concurrent clients over two instances: a quota admits within 2%, a rate no more than burst plus refill', async (t) => {
      // One partner's key used by 40 clients at once, half on each instance: a burst of 200 with
      // a refill of one per second, and a daily quota of 300.
      const consumer = `burst-${runtime}-${Date.now()}`;
      const rateKey = await createKey(consumer, { rate_per_second: 1, burst: 200, quota_per_day: 100000 });
      const from = Array.from({ length: 40 }, addr);
      const rate = await burst(400, 40, (c) => partnerCall(runtime, (c % 2) + 1, consumer, rateKey, { from: from[c] }));
      const admitted = rate.count(404);
      assert.equal(admitted + rate.count(429), 400, `only admitted (404 at the origin) or 429: ${[...new Set(rate.statuses)]}`);
      t.diagnostic(`${runtime} rate: ${admitted} of 400 admitted in ${rate.seconds.toFixed(2)} s against burst 200 + 1/s`);
      // Never more than the burst plus what refilled while the burst lasted (GCRA's bound, to the
      // request), never fewer than the burst: within 2% of 200 when it lasts under 4 s.
      assert.ok(admitted >= 200 && admitted <= 200 + Math.ceil(rate.seconds), `${admitted} admitted in ${rate.seconds} s`);

      const quotaConsumer = `quota-${runtime}-${Date.now()}`;
      const quotaKey = await createKey(quotaConsumer, { rate_per_second: 10000, burst: 5000, quota_per_day: 300 });
      const quota = await burst(600, 40, (c) => partnerCall(runtime, (c % 2) + 1, quotaConsumer, quotaKey, { from: from[c] }));
      t.diagnostic(`${runtime} quota: ${quota.count(404)} of 600 admitted in ${quota.seconds.toFixed(2)} s against a daily quota of 300`);
      assert.ok(Math.abs(quota.count(404) - 300) <= 6, `${quota.count(404)} admitted, within 2% of 300`);
      assert.equal(quota.count(404) + quota.count(429), 600);
    });

    test('API keys get their plan: their own burst, rate and daily quota', async () => {
      const small = `small-${runtime}-${Date.now()}`;
      const big = `big-${runtime}-${Date.now()}`;
      const smallKey = await createKey(small, { rate_per_second: 1, burst: 3, quota_per_day: 1000 });
      const bigKey = await createKey(big, { rate_per_second: 1, burst: 6, quota_per_day: 1000 });
      const s = await untilRefused(() => partnerCall(runtime, 1, small, smallKey), 10);
      const b = await untilRefused(() => partnerCall(runtime, 1, big, bigKey), 10);
      assert.ok(s.admitted >= 3 && s.admitted <= 3 + Math.ceil(s.seconds), `small plan: ${s.admitted}`);
      assert.ok(b.admitted >= 6 && b.admitted <= 6 + Math.ceil(b.seconds), `big plan: ${b.admitted}`);
      const policy = s.last.headers['ratelimit-policy'];
      assert.match(policy, /"partners";q=1;w=1/, policy);
      assert.match(policy, /"partners:daily";q=1000;w=86400/, policy);
      assert.equal(s.last.headers['retry-after'], '1');

      const daily = `daily-${runtime}-${Date.now()}`;
      const dailyKey = await createKey(daily, { rate_per_second: 100, burst: 100, quota_per_day: 5 });
      const d = await untilRefused(() => partnerCall(runtime, 1, daily, dailyKey), 10);
      assert.equal(d.admitted, 5, 'the daily quota is exact');
      const id = `quota-${runtime}-${crypto.randomUUID()}`;
      const over = await partnerCall(runtime, 2, daily, dailyKey, { headers: { 'x-request-id': id } });
      assert.equal(over.status, 429, 'on the other instance too');
      assert.equal((await env.accessLog(runtime === 'spin' ? 'spin2' : 'workers', id)).rate_limit, 'partners:daily');
      const retry = Number(over.headers['retry-after']);
      assert.ok(Math.abs(retry - secondsToUtcMidnight()) < 5, `Retry-After ${retry} s is the next UTC midnight`);
      assert.match(over.headers.ratelimit, /"partners:daily";r=0;t=\d+/);
    });

    test('refused credentials count against the address: past 10, 429 before any lookup', async () => {
      const from = addr();
      const consumer = `guard-${runtime}-${Date.now()}`;
      const key = await createKey(consumer);
      for (let i = 0; i < 10; i += 1) {
        const headers = i % 2 ? { 'x-api-key': `vk_guess${crypto.randomUUID()}` } : { authorization: 'Bearer not.a.token' };
        const r = await send(runtime, (i % 2) + 1, 'GET', `/api/partners/${consumer}/orders`, { from, headers });
        assert.equal(r.status, 401, `guess ${i}: ${r.text}`);
      }
      const id = `guard-${runtime}-${crypto.randomUUID()}`;
      const next = await partnerCall(runtime, 1, consumer, `vk_guess${crypto.randomUUID()}`, { from, headers: { 'x-request-id': id } });
      assert.equal(next.status, 429);
      assert.equal((await env.accessLog(runtime, id)).rate_limit, 'partners-guard');
      const retry = Number(next.headers['retry-after']);
      assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
      assert.equal((await partnerCall(runtime, 2, consumer, key, { from })).status, 429, 'even a valid key from that address waits');
      assert.equal((await partnerCall(runtime, 1, consumer, key, { from: addr() })).status, 404, 'another address is served');
    });

    test('a spoofed X-Forwarded-For is ignored', async () => {
      const from = addr();
      await untilRefused(() => postNumber(runtime, 1, from), 20);
      for (const spoof of [
        { 'x-forwarded-for': '203.0.113.9' },
        { 'x-forwarded-for': `203.0.113.10, ${addr()}` },
        { 'x-real-ip': '203.0.113.11', forwarded: 'for=203.0.113.11' },
        ...(runtime === 'spin' ? [{ 'spin-client-addr': '203.0.113.12:4000' }] : []),
      ]) {
        assert.equal((await postNumber(runtime, 1, from, spoof)).status, 429, JSON.stringify(spoof));
      }
    });

    test('login attempts are limited per address', async () => {
      const from = addr();
      const run = await untilRefused(() => send(runtime, 1, 'GET', '/auth/login', { from }), 40);
      assert.ok(run.admitted >= 30 && run.admitted <= 30 + Math.ceil(run.seconds / 2), `${run.admitted} in ${run.seconds} s`);
      assert.equal(run.last.status, 429);
      assert.equal(run.last.headers['ratelimit-policy'], '"login-per-ip";q=30;w=60');
      assert.ok(Number(run.last.headers['retry-after']) >= 1);
    });

    test('the access rule answers 403 before identity, whatever the client claims', async () => {
      const admin = { authorization: `Bearer ${adminToken()}` };
      assert.equal((await send(runtime, 1, 'GET', '/api/admin/keys', { headers: admin })).status, 200, 'from 127.0.0.1, an operator address');
      const from = addr();
      const id = `deny-${runtime}-${crypto.randomUUID()}`;
      const denied = await send(runtime, 1, 'GET', '/api/admin/keys', { from, headers: { ...admin, 'x-request-id': id } });
      assert.equal(denied.status, 403);
      assert.equal(denied.headers['content-type'], 'application/problem+json');
      assert.equal(denied.json.status, 403);
      assert.match((await env.accessLog(runtime, id)).error, /access rule "operators"/);
      const noToken = await send(runtime, 2, 'GET', '/api/admin/keys', { from });
      assert.equal(noToken.status, 403, 'no token: still 403, not 401 (the rule comes first)');
      assert.equal(noToken.headers['www-authenticate'], undefined);
      const spoofed = await send(runtime, 1, 'GET', '/api/admin/keys', { from, headers: { ...admin, 'x-forwarded-for': '127.0.0.1' } });
      assert.equal(spoofed.status, 403, 'X-Forwarded-For does not make an operator');
    });
  });
}

describe('the store goes down', () => {
  test('Spin, Redis stalled then refusing: numbers fail open, partners fail closed, both within the timeout; counting resumes', async () => {
    const consumer = `outage-spin-${Date.now()}`;
    const key = await createKey(consumer);
    assert.equal((await partnerCall('spin', 1, consumer, key)).status, 404, 'admitted while Redis is up');
    const { pid, port } = env.stack.redis;
    const outage = async (what) => {
      const id = `open-${crypto.randomUUID()}`;
      const t0 = Date.now();
      const open = await postNumber('spin', 1, addr(), { 'x-request-id': id });
      const openMs = Date.now() - t0;
      assert.equal(open.status, 201, `${what}: numbers fail open: ${open.text}`);
      assert.ok(openMs < 1500, `${what}: answered in ${openMs} ms`);
      assert.match((await env.accessLog('spin', id)).rate_limit_store, /numbers-per-ip: .*failed open/);
      const cid = `closed-${crypto.randomUUID()}`;
      const closed = await partnerCall('spin', 1, consumer, key, { headers: { 'x-request-id': cid } });
      assert.equal(closed.status, 503, `${what}: partners fail closed`);
      assert.equal(closed.headers['content-type'], 'application/problem+json');
      assert.ok(Number(closed.headers['retry-after']) >= 1);
      const line = await env.accessLog('spin', cid);
      assert.match(line.rate_limit_store, /partners: .*failed closed/);
      return line.rate_limit_store;
    };
    // Stalled: the process stops answering (the edge cuts each call at store_timeout_ms).
    process.kill(pid, 'SIGSTOP');
    try {
      assert.match(await outage('stalled'), /did not answer within 250ms/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    assert.equal((await partnerCall('spin', 1, consumer, key)).status, 404, 'served again once Redis answers');

    // Refusing: every command answers an error (a password the edge does not have, and its
    // connections dropped). Killing redis-server would stop the whole test stack (devstack
    // stops everything when one of its processes exits).
    const cli = (...args) => execFileSync('redis-cli', ['-p', String(port), '--no-auth-warning', ...args]).toString();
    cli('CONFIG', 'SET', 'requirepass', 'verge-outage');
    try {
      cli('-a', 'verge-outage', 'CLIENT', 'KILL', 'TYPE', 'normal');
      assert.match(await outage('refusing'), /unavailable/);
    } finally {
      cli('-a', 'verge-outage', 'CONFIG', 'SET', 'requirepass', '');
    }
    let status;
    for (let i = 0; i < 25; i += 1) {
      status = (await partnerCall('spin', 1, consumer, key)).status;
      if (status === 404) break;
      await sleep(200);
    }
    assert.equal(status, 404, 'served again once Redis answers');
  });

  test('Workers, the Durable Object slow or throwing: numbers fail open, partners fail closed', async () => {
    // Two more isolates of the edge whose VERGE_RATE_LIMITER is a stand-in class: one answers
    // after 5 s (past the 250 ms store timeout), one throws, as an overloaded or reset object does.
    const build = path.join(ROOT, 'edge/workers/build');
    const brokenClass = `
      export class RateLimiter {
        constructor(state, env) { this.env = env; }
        async fetch() {
          if (this.env.MODE === 'slow') {
            await new Promise((r) => setTimeout(r, 5000));
            return new Response('1 0 0 0');
          }
          throw new Error('Durable Object storage operation exceeded timeout');
        }
      }
      export default { fetch: () => new Response('') };`;
    const edge = (name, doScript) => edgeWorker(name, build, env.stack.edge_env_for_workers, {
      VERGE_RATE_LIMITER: { className: 'RateLimiter', scriptName: doScript },
    });
    const broken = (name, mode) => ({
      name,
      modules: true,
      script: brokenClass,
      compatibilityDate: '2025-09-01',
      bindings: { MODE: mode },
      durableObjects: { SELF: 'RateLimiter' },
    });
    const lines = [];
    const mf = new Miniflare({
      workers: [edge('edge-slow', 'do-slow'), edge('edge-failing', 'do-failing'), broken('do-slow', 'slow'), broken('do-failing', 'failing')],
      handleRuntimeStdio: (stdout, stderr) => {
        stdout.on('data', (d) => lines.push(...d.toString().split('\n')));
        stderr.resume();
      },
    });
    try {
      await mf.ready;
      const consumer = `outage-workers-${Date.now()}`;
      const key = await createKey(consumer);
      const log = async (id) => {
        for (let i = 0; i < 50; i += 1) {
          const l = lines.find((x) => x.includes(`"request_id":"${id}"`));
          if (l) return JSON.parse(l.slice(l.indexOf('{')));
          await sleep(20);
        }
        throw new Error(`no log line for ${id}`);
      };
      for (const [name, why] of [['edge-slow', /did not answer within 250ms/], ['edge-failing', /unavailable/]]) {
        const worker = await mf.getWorker(name);
        const call = async (p, init) => fromFetch(await worker.fetch(`http://edge.verge.test${p}`, { redirect: 'manual', ...init }));
        const id = `open-${name}-${crypto.randomUUID()}`;
        const t0 = Date.now();
        const open = await call('/api/numbers', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'cf-connecting-ip': addr(), 'x-request-id': id },
          body: '{"value":7}',
        });
        assert.equal(open.status, 201, `${name}: numbers fail open: ${open.text}`);
        assert.ok(Date.now() - t0 < 2000, `${name}: ${Date.now() - t0} ms`);
        const openLine = await log(id);
        assert.match(openLine.rate_limit_store, /numbers-per-ip: .*failed open/);
        assert.match(openLine.rate_limit_store, why);
        const cid = `closed-${name}-${crypto.randomUUID()}`;
        const closed = await call(`/api/partners/${consumer}/feed-x`, { headers: { 'x-api-key': key, 'x-request-id': cid } });
        assert.equal(closed.status, 503, `${name}: partners fail closed`);
        assert.ok(Number(closed.headers['retry-after']) >= 1);
        assert.match((await log(cid)).rate_limit_store, /partners: .*failed closed/);
      }
    } finally {
      await mf.dispose();
    }
  });
});
