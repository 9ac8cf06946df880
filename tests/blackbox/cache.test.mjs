// The edge cache, black-box, on both runtimes. The stack (startStack) gives moto, the bucket,
// the JWT issuer and the edges on the real origin; for answers a test must control (statuses,
// Cache-Control, ETag, Set-Cookie, a dropped connection), the same edge builds with the same
// edge/edge.toml are started a second time pointed at a programmable origin
// (tests/cache/origin.mjs): the Workers build on miniflare with VERGE_ORIGIN_URL changed, and
// the Spin build under the project's Spin host from tests/cache/spin.toml with a fresh instance
// per request, so every hit there is read from the key-value store the instances share.
// Scenarios go through the shipped behaviours: /api/stats/daily (cache policy daily_stats:
// query keyed, tracking parameters dropped) and /api/me/* (per_user).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { edgeVariables, raw, startSpinEdge, startStack, startWorkersEdge } from './stack.mjs';
import { startTestOrigin } from '../cache/origin.mjs';

let env;
let origin;
const edges = {};
/** Each Spin edge's state directory (its key-value store's SQLite file), by URL. */
const spinStates = new Map();
const stops = [];

before(async () => {
  env = await startStack();
  origin = await startTestOrigin();
  const w = env.stack.edge_env_for_workers;
  const workers = await startWorkersEdge({ ...w, VERGE_ORIGIN_URL: origin.url, VERGE_ORIGIN_FAILOVER_URL: origin.url, VERGE_ORIGIN_CANARY_URL: origin.url }, stops);
  edges.workers = workers.url;
  edges.workers2 = workers.second;
  const spinVariables = { origin_url: origin.url, ...edgeVariables(w) };
  for (const [name, reuse] of [['spin', false], ['spinReused', true]]) {
    const spin = await startSpinEdge('tests/cache/spin.toml', spinVariables, stops, { reuse });
    edges[name] = spin.url;
    spinStates.set(spin.url, spin.state);
  }
});

after(async () => {
  for (const stop of stops.reverse()) await stop();
  await origin?.close();
  await env?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stats = (from, extra = '') => `/api/stats/daily?from=${from}&to=2026-12-01${extra}`;
const status = (r) => r.headers['cache-status'] ?? '';

for (const runtime of ['spin', 'workers']) {
  describe(`edge cache on ${runtime}`, () => {
    const edge = () => edges[runtime];
    const name = (s) => `${runtime}-${s}`;

    test('a miss is stored, the next request is a hit served without the origin', async () => {
      const s = name('hit');
      origin.set(s, { headers: { 'cache-control': 'max-age=60' } });
      const first = await raw(edge(), 'GET', stats(s));
      assert.equal(first.status, 200, first.text);
      assert.match(status(first), /fwd=uri-miss; fwd-status=200; stored/);
      const second = await raw(edge(), 'GET', stats(s));
      assert.equal(second.text, first.text);
      assert.match(status(second), /^verge; hit; ttl=\d+/);
      assert.ok(Number(second.headers.age) >= 0);
      assert.equal(origin.count(s), 1, 'one origin request');
    });

    test('an expired entry without validators is fetched again', async () => {
      const s = name('expiry');
      // must-revalidate: no stale answers (the policy's stale windows would apply otherwise).
      origin.set(s, { headers: { 'cache-control': 'max-age=1, must-revalidate' } });
      await raw(edge(), 'GET', stats(s));
      await sleep(1300);
      const again = await raw(edge(), 'GET', stats(s));
      assert.equal(again.json.n, 2);
      assert.match(status(again), /fwd=stale; fwd-status=200/);
    });

    test('a stale entry is revalidated: 304 keeps the body, 200 replaces it', async () => {
      const s = name('reval');
      origin.set(s, {
        status: (req, n) => (n === 2 && req.headers['if-none-match'] === '"v1"' ? 304 : 200),
        headers: (req, n) => ({ 'cache-control': 'max-age=1, must-revalidate', etag: n < 3 ? '"v1"' : '"v2"' }),
      });
      const first = await raw(edge(), 'GET', stats(s));
      await sleep(1300);
      const kept = await raw(edge(), 'GET', stats(s));
      assert.equal(kept.status, 200);
      assert.equal(kept.text, first.text, 'the stored body, confirmed by the 304');
      assert.match(status(kept), /fwd=stale; fwd-status=304/);
      assert.equal(origin.requests(s)[1].headers['if-none-match'], '"v1"');
      await sleep(1300);
      const replaced = await raw(edge(), 'GET', stats(s));
      assert.equal(replaced.json.n, 3);
      assert.equal(replaced.headers.etag, '"v2"');
      assert.match(status(replaced), /fwd=stale; fwd-status=200; stored/);
    });

    test('stale-while-revalidate answers stale at once and refreshes after the answer', async () => {
      const s = name('swr');
      origin.set(s, { headers: { 'cache-control': 'max-age=1, stale-while-revalidate=30' } });
      await raw(edge(), 'GET', stats(s));
      await sleep(1300);
      const stale = await raw(edge(), 'GET', stats(s));
      assert.equal(stale.json.n, 1);
      assert.match(status(stale), /hit; ttl=-?\d+; detail=stale-while-revalidate/);
      for (let i = 0; i < 50 && origin.count(s) < 2; i += 1) await sleep(50);
      assert.equal(origin.count(s), 2, 'refreshed in the background');
      await sleep(200);
      const fresh = await raw(edge(), 'GET', stats(s));
      assert.equal(fresh.json.n, 2);
      assert.match(status(fresh), /^verge; hit/);
    });

    test('stale-if-error serves the entry when the origin answers 503 and when it is down', async () => {
      for (const failure of ['503', 'down']) {
        const s = name(`sie-${failure}`);
        // The origin's own stale-while-revalidate=0 wins over the policy's 300 s.
        origin.set(s, { headers: { 'cache-control': 'max-age=1, stale-while-revalidate=0, stale-if-error=60' } });
        const first = await raw(edge(), 'GET', stats(s));
        await sleep(1300);
        origin.set(s, failure === '503' ? { status: 503, body: 'down' } : { drop: true });
        const r = await raw(edge(), 'GET', stats(s));
        assert.equal(r.status, 200, `${failure}: ${r.text}`);
        assert.equal(r.text, first.text);
        assert.match(status(r), failure === '503' ? /fwd-status=503; .*detail=stale-if-error/ : /detail=stale-if-error/);
      }
    });

    test('Vary: another Accept-Language never gets the stored answer', async () => {
      const s = name('vary');
      origin.set(s, { headers: { 'cache-control': 'max-age=60', vary: 'accept-language' } });
      const en = await raw(edge(), 'GET', stats(s), { headers: { 'accept-language': 'en' } });
      const enAgain = await raw(edge(), 'GET', stats(s), { headers: { 'accept-language': 'en' } });
      assert.match(status(enAgain), /^verge; hit/);
      assert.equal(enAgain.text, en.text);
      const fr = await raw(edge(), 'GET', stats(s), { headers: { 'accept-language': 'fr' } });
      assert.equal(fr.json.n, 2, 'fetched for the other language');
      assert.match(status(fr), /fwd=vary-miss/);
    });

    test('query order, escapes and tracking parameters make one entry', async () => {
      const s = name('norm');
      origin.set(s, { headers: { 'cache-control': 'max-age=60' } });
      await raw(edge(), 'GET', `/api/stats/daily?from=${s}&to=2026-12-01&utm_source=news`);
      const b = await raw(edge(), 'GET', `/api/stats/daily?to=2026%2D12%2D01&fbclid=abc&from=${s}`);
      assert.match(status(b), /^verge; hit/);
      assert.equal(origin.count(s), 1);
      assert.doesNotMatch(origin.requests(s)[0].url, /utm_source/, 'a dropped parameter does not reach the origin');
    });

    test('a conditional request is answered 304 from the cache; HEAD and Range from the cached GET', async () => {
      const s = name('cond');
      const body = '0123456789abcdefghij';
      origin.set(s, { headers: { 'cache-control': 'max-age=60', etag: '"e1"', 'content-type': 'text/plain' }, body });
      await raw(edge(), 'GET', stats(s));
      const notModified = await raw(edge(), 'GET', stats(s), { headers: { 'if-none-match': 'W/"e1"' } });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.text, '');
      assert.equal(notModified.headers.etag, '"e1"');
      const head = await raw(edge(), 'HEAD', stats(s));
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
      const part = await raw(edge(), 'GET', stats(s), { headers: { range: 'bytes=2-5' } });
      assert.equal(part.status, 206);
      assert.equal(part.text, '2345');
      assert.equal(part.headers['content-range'], `bytes 2-5/${body.length}`);
      assert.equal(origin.count(s), 1, 'all four from one origin request');
    });

    test('a per-user behaviour never shares an entry between two users', async () => {
      const p = `/api/me/profile-${runtime}`;
      origin.set(p, { headers: { 'cache-control': 'max-age=60' } });
      const token = (sub) => ({ authorization: `Bearer ${env.issuer.mint({ claims: { sub } })}` });
      const ada = await raw(edge(), 'GET', p, { headers: token('ada') });
      assert.equal(ada.status, 200, ada.text);
      assert.equal(ada.json.user, 'ada');
      const bob = await raw(edge(), 'GET', p, { headers: token('bob') });
      assert.equal(bob.json.user, 'bob');
      const adaAgain = await raw(edge(), 'GET', p, { headers: token('ada') });
      assert.equal(adaAgain.json.user, 'ada');
      assert.match(status(adaAgain), /^verge; hit/);
      assert.equal(origin.count(p), 2);
      const nobody = await raw(edge(), 'GET', p);
      assert.equal(nobody.status, 401, 'identity is checked before the cache');
    });

    test('a response with Set-Cookie is relayed but never stored', async () => {
      const s = name('cookie');
      origin.set(s, { headers: { 'cache-control': 'max-age=60', 'set-cookie': 'track=1; Path=/' } });
      const a = await raw(edge(), 'GET', stats(s));
      assert.deepEqual(a.headers['set-cookie'], ['track=1; Path=/']);
      assert.match(status(a), /detail=set-cookie/);
      const b = await raw(edge(), 'GET', stats(s));
      assert.equal(b.json.n, 2);
    });

    test('purge: refused without an admin token, then a prefix purge makes the next request miss', async () => {
      const s = name('purge');
      origin.set(s, { headers: { 'cache-control': 'max-age=600' } });
      await raw(edge(), 'GET', stats(s));
      assert.match(status(await raw(edge(), 'GET', stats(s))), /^verge; hit/);
      const body = JSON.stringify({ prefixes: ['/api/stats/'] });
      const anonymous = await raw(edge(), 'POST', '/.verge/purge', { body, headers: { 'content-type': 'application/json' } });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers['content-type'], 'application/problem+json');
      const reader = await raw(edge(), 'POST', '/.verge/purge', { body, headers: { authorization: `Bearer ${env.issuer.mint()}` } });
      assert.equal(reader.status, 403);
      const admin = { authorization: `Bearer ${env.issuer.mint({ claims: { scope: 'admin' } })}` };
      const bad = await raw(edge(), 'POST', '/.verge/purge', { body: '{"prefixes":["/a/../b"]}', headers: admin });
      assert.equal(bad.status, 400);
      const ok = await raw(edge(), 'POST', '/.verge/purge', { body, headers: admin });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.json.purged.prefixes, ['/api/stats/']);
      assert.match(ok.json.reach, runtime === 'spin' ? /key-value/ : /data centre/);
      const after = await raw(edge(), 'GET', stats(s));
      assert.equal(after.json.n, 2, 'purged: fetched again');
      assert.match(status(after), /stored/);
    });

    test('an answer without a length past cache_max_object_bytes streams through and is not stored', async () => {
      const s = name('big-chunked');
      // 1.5 MB now (the shipped limit is 1 MB), the last bytes 1.5 s later, no Content-Length.
      const head = JSON.stringify({ pad: 'x'.repeat(1536 * 1024) }).slice(0, -2);
      const tail = { delayMs: 1500, body: '"}' };
      origin.set(s, { chunked: true, body: head, tail, headers: { 'cache-control': 'max-age=60' } });
      const first = await raw(edge(), 'GET', stats(s));
      assert.equal(first.status, 200);
      assert.equal(first.text, head + tail.body, 'every byte, in order');
      assert.match(status(first), /fwd-status=200; detail=too-large/);
      // Relayed as it came: the first bytes reached the client before the origin had finished.
      assert.ok(first.firstByteMs < tail.delayMs, `first byte after ${first.firstByteMs} ms (the origin ended after ${tail.delayMs} ms)`);
      const again = await raw(edge(), 'GET', stats(s));
      assert.equal(again.text, first.text);
      assert.equal(origin.count(s), 2, 'nothing stored');
    });
  });
}

describe('request collapsing', () => {
  // One instance serving many requests at once: the Workers isolate, and a Spin instance reused
  // concurrently (the host's default). A fresh Spin instance per request shares nothing in memory.
  // Requests arrive 60 ms apart, all while the first is at the origin: Spin hosts (like
  // wasmtime's pool) give a request arriving in the instant another is being taken on a new
  // instance, and instances share no memory, so a burst arriving at once may be collapsed per
  // instance rather than into one.
  const staggered = (n, send) => Array.from({ length: n }, (_, i) => sleep(60 * i).then(send));
  for (const [runtime, edge] of [['spin', () => edges.spinReused], ['workers', () => edges.workers]]) {
    test(`${runtime}: concurrent misses for one key make one origin request; the rest wait and share its answer`, async () => {
      const s = `${runtime}-collapse`;
      origin.set(s, { headers: { 'cache-control': 'max-age=60' }, delayMs: 800 });
      const answers = await Promise.all(staggered(6, () => raw(edge(), 'GET', stats(s))));
      assert.equal(origin.count(s), 1, 'one origin request for six concurrent misses');
      for (const a of answers) {
        assert.equal(a.status, 200, a.text);
        assert.equal(a.text, answers[0].text);
      }
      const statuses = answers.map(status).sort();
      assert.equal(statuses.filter((x) => /fwd=uri-miss; fwd-status=200; stored/.test(x)).length, 1, statuses.join(' | '));
      assert.equal(statuses.filter((x) => /fwd=uri-miss; ttl=\d+; collapsed$/.test(x)).length, 5, statuses.join(' | '));
    });

    test(`${runtime}: when the answer is not storable, each waiter goes to the origin itself`, async () => {
      const s = `${runtime}-collapse-nostore`;
      origin.set(s, { headers: { 'cache-control': 'no-store' }, delayMs: 600 });
      const answers = await Promise.all(staggered(3, () => raw(edge(), 'GET', stats(s))));
      assert.equal(origin.count(s), 3);
      for (const a of answers) assert.equal(a.status, 200, a.text);
      assert.equal(answers.map(status).filter((x) => /; collapsed=\?0/.test(x)).length, 2, answers.map(status).join(' | '));
    });
  }
});

describe('shared tier', () => {
  test('Spin: an entry stored by one instance is a hit in another (fresh instance per request)', async () => {
    const s = 'spin-shared';
    origin.set(s, { headers: { 'cache-control': 'max-age=60' } });
    await raw(edges.spin, 'GET', stats(s));
    const other = await raw(edges.spin, 'GET', stats(s));
    assert.match(status(other), /^verge; hit/);
    assert.equal(origin.count(s), 1);
  });

  test('Workers: an entry stored by one isolate is a hit in another (the Cache API of the data centre)', async () => {
    const s = 'workers-shared';
    origin.set(s, { headers: { 'cache-control': 'max-age=60' } });
    await raw(edges.workers, 'GET', stats(s));
    const other = await edges.workers2.fetch(`http://edge.test${stats(s)}`);
    assert.equal(other.status, 200);
    assert.match(other.headers.get('cache-status') ?? '', /^verge; hit/);
    assert.equal(origin.count(s), 1);
  });

  // RFC 9111 4.4: an unsafe request invalidates every variant of its URI, here every user's
  // entry of a per-user behaviour, also where another instance or isolate would find it.
  for (const runtime of ['spin', 'workers']) {
    test(`${runtime}: a successful PUT invalidates every user's entry of the URI in the shared tier`, async () => {
      const p = `/api/me/settings-${runtime}`;
      origin.set(p, { headers: { 'cache-control': 'max-age=60' } });
      const token = (sub) => ({ authorization: `Bearer ${env.issuer.mint({ claims: { sub } })}` });
      // Spin: a fresh instance per request, so every hit below comes from the shared tier.
      // Workers: the second isolate has nothing in memory and reads the shared tier.
      const other = async (headers) => {
        if (runtime === 'spin') return raw(edges.spin, 'GET', p, { headers });
        const r = await edges.workers2.fetch(`http://edge.test${p}`, { headers });
        return { status: r.status, headers: { 'cache-status': r.headers.get('cache-status') ?? '' }, text: await r.text() };
      };
      const first = runtime === 'spin' ? edges.spin : edges.workers;
      for (const who of ['ada', 'bob', 'cy']) assert.equal((await raw(first, 'GET', p, { headers: token(who) })).status, 200);
      // (cy, not bob: what the second isolate reads it keeps in its own memory tier.)
      assert.match(status(await other(token('cy'))), /^verge; hit/, 'the entries are shared');
      const put = await raw(first, 'PUT', p, { headers: { ...token('ada'), 'content-type': 'application/json' }, body: '{}' });
      assert.equal(put.status, 200, put.text);
      const bob = await other(token('bob'));
      assert.equal(bob.status, 200);
      assert.match(status(bob), /fwd=uri-miss/, "ada's PUT removed bob's entry too");
      assert.equal(origin.count(p), 5, 'three fills, the PUT, and bob again');
    });
  }

  test('Spin: entries past their time are swept from the key-value store, which has no expiry of its own', async () => {
    // Written straight into the host's SQLite file in Spin's layout and the edge's format
    // (edge/core/src/cache/expiry.rs): a value past its time with its marker, and a value a later
    // write gave longer, whose old marker is due.
    origin.set('spin-sweep-first', { headers: { 'cache-control': 'max-age=60' } });
    await raw(edges.spin, 'GET', stats('spin-sweep-first')); // the store exists once something is stored
    await sleep(300); // and the sweep that fill may start is over
    const db = new DatabaseSync(path.join(spinStates.get(edges.spin), 'sqlite_key_value.db'));
    const framed = (until, text) => {
      const head = Buffer.alloc(12);
      head.write('VXP1');
      head.writeBigUInt64BE(BigInt(until), 4);
      return Buffer.concat([head, Buffer.from(text)]);
    };
    const now = Math.floor(Date.now() / 1000);
    const gone = `verge-cache/${'a'.repeat(64)}`;
    const kept = `verge-cache/${'b'.repeat(64)}`;
    const marker = (until, name) => `verge-cache-exp/${String(until).padStart(12, '0')}/${name}`;
    const put = db.prepare("INSERT OR REPLACE INTO spin_key_value (store, key, value) VALUES ('default', ?, ?)");
    put.run(gone, framed(now - 10, 'old'));
    put.run(marker(now - 10, gone), Buffer.alloc(0));
    put.run(kept, framed(now + 3600, 'renewed'));
    put.run(marker(now - 10, kept), Buffer.alloc(0));
    // The last sweep's record, so that the next fill sweeps now rather than within the minute.
    db.prepare("DELETE FROM spin_key_value WHERE store = 'default' AND key = 'verge-cache-sweep'").run();
    const keys = () => new Set(db.prepare("SELECT key FROM spin_key_value WHERE store = 'default'").all().map((r) => r.key));

    const s = 'spin-sweep';
    origin.set(s, { headers: { 'cache-control': 'max-age=60' } });
    assert.match(status(await raw(edges.spin, 'GET', stats(s))), /stored/);
    for (let i = 0; i < 50 && keys().has(gone); i += 1) await sleep(100);
    const after = keys();
    db.close();
    assert.ok(!after.has(gone) && !after.has(marker(now - 10, gone)), 'the due value and its marker are deleted');
    assert.ok(after.has(kept), 'a value written again with a later time stays');
    assert.ok(!after.has(marker(now - 10, kept)), 'its old marker goes');
    assert.ok(after.has('verge-cache-sweep'), 'the sweep is recorded for the other instances');
    assert.ok([...after].some((k) => k.startsWith('verge-cache-exp/') && !k.endsWith('a'.repeat(64))), "the new entry's marker is written");
  });

  test('the real origin’s anonymous daily statistics are kept briefly by both stack edges (daily_stats policy)', async () => {
    for (const runtime of ['spin', 'workers']) {
      const day = 1 + Math.floor(Math.random() * 28);
      const path = `/api/stats/daily?from=2025-02-${String(day).padStart(2, '0')}&to=2025-12-31&utm_source=${runtime}`;
      const first = await raw(env.edges[runtime], 'GET', path);
      assert.equal(first.status, 200, first.text);
      assert.equal(first.headers['cache-control'], 'no-store', 'browsers keep nothing');
      const second = await raw(env.edges[runtime], 'GET', path.replace(`utm_source=${runtime}`, 'utm_source=other'));
      assert.match(status(second), /^verge; hit/, `${runtime}: ${status(first)} then ${status(second)}`);
      assert.equal(second.text, first.text);
    }
  });

  test('an asset from the bucket is cached on both stack edges (site policy) and answers HEAD', async () => {
    for (const runtime of ['spin', 'workers']) {
      const first = await raw(env.edges[runtime], 'GET', '/favicon.svg?v=1');
      assert.equal(first.status, 200);
      const second = await raw(env.edges[runtime], 'GET', '/favicon.svg?v=2');
      assert.match(status(second), /^verge; hit/, `${runtime}: the query does not split the entry`);
      assert.equal(second.text, first.text);
    }
  });
});
