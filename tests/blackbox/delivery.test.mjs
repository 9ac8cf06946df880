// Origin groups (failover), canary routing, custom error pages and compression, black-box on both
// runtimes, with the shipped edge/edge.toml: its open /api/* behaviour fails over from `api` to
// `api-failover` and sends 5% of clients (or `x-verge-canary: 1`, or the cookie `canary=1`) to
// `api-canary`; 502, 503 and 504 answer browsers with /errors/5xx.html from the bucket.
// The edges are started a second time with those three origins pointed at three programmable
// origins (tests/cache/origin.mjs): the Workers build on miniflare, the Spin build under the
// project's Spin host (tests/delivery/spin.toml), and once more with the primary on a port that
// refuses connections.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { edgeVariables, findLog, startSpinEdge, startStack, startWorkersEdge } from './stack.mjs';
import { startTestOrigin } from '../cache/origin.mjs';

let env;
const origins = {};
const edges = {};
const stops = [];

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

async function startEdges(primary, failover, canary) {
  const w = env.stack.edge_env_for_workers;
  const workers = await startWorkersEdge({ ...w, VERGE_ORIGIN_URL: primary, VERGE_ORIGIN_FAILOVER_URL: failover, VERGE_ORIGIN_CANARY_URL: canary }, stops);
  const spin = await startSpinEdge('tests/delivery/spin.toml', { origin_url: primary, failover_url: failover, canary_url: canary, ...edgeVariables(w) }, stops);
  return { spin: { url: spin.url, log: spin.log }, workers: { url: workers.url, log: () => workers.log } };
}

before(async () => {
  env = await startStack();
  for (const name of ['primary', 'failover', 'canary']) origins[name] = await startTestOrigin();
  const { primary, failover, canary } = origins;
  edges.up = await startEdges(primary.url, failover.url, canary.url);
  edges.refused = await startEdges(await closedPort(), failover.url, canary.url);
});

after(async () => {
  for (const stop of stops.reverse()) await stop();
  for (const o of Object.values(origins)) await o.close();
  await env?.stop();
});

/** One request over its own connection; the body as bytes, undecoded. */
function send(base, method, p, headers = {}) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: p, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body, text: body.toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

// Every request that is not about the canary keeps to the primary (5% of new clients would not).
const PRIMARY = { 'x-verge-canary': '0' };
const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', ...PRIMARY };
const API = { accept: 'application/json', ...PRIMARY };

for (const runtime of ['spin', 'workers']) {
  describe(`origin groups, canaries and error pages on ${runtime}`, () => {
    const edge = () => edges.up[runtime];
    const refused = () => edges.refused[runtime];
    const name = (s) => `/api/${runtime}-${s}`;
    const mark = (s) => {
      origins.primary.set(s, { body: 'primary' });
      origins.failover.set(s, { body: 'failover' });
      origins.canary.set(s, { body: 'canary' });
    };

    test('a 503 from the primary fails over to the secondary, once, and the log names who served', async () => {
      const s = name('503');
      mark(s);
      origins.primary.set(s, { status: 503, body: 'primary down' });
      const r = await send(edge().url, 'GET', s, PRIMARY);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, 'failover');
      assert.equal(origins.primary.count(s), 1);
      assert.equal(origins.failover.count(s), 1);
      const log = await findLog(edge().log, r.headers['x-request-id']);
      assert.equal(log.origin, 'api-failover');
      assert.equal(log.failover, 'api: status 503');
    });

    test('a primary that refuses connections, or drops them, fails over', async () => {
      const s = name('refused');
      mark(s);
      const r = await send(refused().url, 'GET', s, PRIMARY);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, 'failover');
      const log = await findLog(refused().log, r.headers['x-request-id']);
      assert.match(log.failover, /^api: the origin could not be reached/);
      const d = name('dropped');
      mark(d);
      origins.primary.set(d, { drop: true });
      const dropped = await send(edge().url, 'HEAD', d, PRIMARY);
      assert.equal(dropped.status, 200);
      assert.equal(origins.failover.count(d), 1);
    });

    test('a POST is never sent twice', async () => {
      const s = name('post');
      mark(s);
      origins.primary.set(s, { status: 503, body: '{"title":"busy"}' });
      const r = await send(edge().url, 'POST', s, API);
      assert.equal(r.status, 503);
      assert.equal(r.text, '{"title":"busy"}', "the origin's own answer");
      assert.equal(origins.failover.count(s), 0);
    });

    test('a browser gets the error page, an API client problem+json or the origin body', async () => {
      const s = name('page');
      mark(s);
      origins.primary.set(s, { status: 503, body: '{"origin":"busy"}' });
      origins.failover.set(s, { status: 503, body: '{"origin":"busy too"}' });
      const page = await send(edge().url, 'GET', s, BROWSER);
      assert.equal(page.status, 503);
      assert.match(page.headers['content-type'], /^text\/html/);
      assert.match(page.text, /Something went wrong on our side/);
      assert.ok(page.headers['x-request-id'], 'finished like every answer');
      const api = await send(edge().url, 'GET', s, API);
      assert.equal(api.status, 503);
      assert.equal(api.text, '{"origin":"busy too"}');
      // Both origins gone: the edge's own 502, a page for the browser, problem+json for the API.
      const gone = name('gone');
      mark(gone);
      origins.failover.set(gone, { drop: true });
      const edgePage = await send(refused().url, 'GET', gone, BROWSER);
      assert.equal(edgePage.status, 502);
      assert.match(edgePage.text, /Something went wrong/);
      const problem = await send(refused().url, 'GET', gone, API);
      assert.equal(problem.status, 502);
      assert.equal(problem.headers['content-type'], 'application/problem+json');
      assert.equal(JSON.parse(problem.text).type, 'https://verge.dev/problems/origin-unreachable');
    });

    test('canary: about 5% of new clients, each kept on its side, and forced by header or cookie', async () => {
      const s = name('canary');
      mark(s);
      let onCanary = 0;
      let sticky;
      for (let i = 0; i < 400; i += 1) {
        const r = await send(edge().url, 'GET', s);
        assert.equal(r.status, 200);
        const cookie = r.headers['set-cookie']?.find((c) => c.startsWith('verge_canary='));
        assert.ok(cookie, 'a new client gets its sticky id');
        if (r.text === 'canary') onCanary += 1;
        if (!sticky && r.text === 'canary') sticky = { cookie: cookie.split(';')[0], side: r.text, id: r.headers['x-request-id'] };
      }
      assert.ok(onCanary >= 6 && onCanary <= 45, `${onCanary} of 400 new clients on the canary at weight 5`);
      assert.equal(origins.canary.count(s), onCanary);
      assert.equal((await findLog(edge().log, sticky.id)).origin, 'api-canary');
      for (let i = 0; i < 10; i += 1) {
        const again = await send(edge().url, 'GET', s, { cookie: sticky.cookie });
        assert.equal(again.text, sticky.side, 'the same client stays on the canary');
        assert.equal(again.headers['set-cookie'], undefined);
      }
      assert.equal((await send(edge().url, 'GET', s, { 'x-verge-canary': '1' })).text, 'canary');
      assert.equal((await send(edge().url, 'GET', s, { cookie: 'canary=1' })).text, 'canary');
      assert.equal((await send(edge().url, 'GET', s, { cookie: `${sticky.cookie}; canary=0` })).text, 'primary');
      const seen = origins.canary.requests(s).at(-1).headers;
      assert.equal(seen.cookie, undefined, 'the edge keeps its cookies to itself');
    });
  });
}

test('a primary slower than its timeout (10 s) fails over, on both runtimes', async () => {
  await Promise.all(
    ['spin', 'workers'].map(async (runtime) => {
      const s = `/api/${runtime}-slow`;
      origins.primary.set(s, { delayMs: 12_000, body: 'late' });
      origins.failover.set(s, { body: 'failover' });
      const t0 = Date.now();
      const r = await send(edges.up[runtime].url, 'GET', s, PRIMARY);
      assert.equal(r.text, 'failover', runtime);
      assert.ok(Date.now() - t0 < 11_500, `${runtime}: ${Date.now() - t0} ms`);
      const log = await findLog(edges.up[runtime].log, r.headers['x-request-id']);
      assert.equal(log.failover, 'api: the origin did not answer in time');
    }),
  );
});

describe('compression', () => {
  const body = JSON.stringify({ days: Array.from({ length: 300 }, (_, i) => ({ day: `2026-11-${i % 30}`, count: i, label: 'numbers' })) });
  const s = '/api/compress-json';
  before(() => origins.primary.set(s, { body }));

  test('Spin gzips text for a client that accepts it, and a real client decodes it', async () => {
    const r = await send(edges.up.spin.url, 'GET', s, { ...PRIMARY, 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.match(r.headers.vary, /accept-encoding/i);
    assert.ok(r.body.length < body.length / 4, `${r.body.length} bytes for ${body.length}`);
    assert.equal(zlib.gunzipSync(r.body).toString(), body);
    // node's fetch (undici) asks for gzip and br and decodes what it gets.
    const f = await fetch(`${edges.up.spin.url}${s}`, { headers: PRIMARY });
    assert.equal(await f.text(), body);
    const plain = await send(edges.up.spin.url, 'GET', s, { ...PRIMARY, 'accept-encoding': 'identity' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.text, body);
    const tiny = await send(edges.up.spin.url, 'GET', '/api/compress-tiny', { ...PRIMARY, 'accept-encoding': 'gzip' });
    assert.equal(tiny.headers['content-encoding'], undefined, 'under 1 KB stays as it is');
  });

  test('Spin streams an answer of unknown length through as it comes, uncompressed', async () => {
    origins.primary.set('/api/compress-chunked', { body, chunked: true });
    const r = await send(edges.up.spin.url, 'GET', '/api/compress-chunked', { ...PRIMARY, 'accept-encoding': 'gzip' });
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.text, body);
  });

  test('Workers leaves encoding to the runtime: workerd compresses by Accept-Encoding itself', async () => {
    const gz = await send(edges.up.workers.url, 'GET', s, { ...PRIMARY, 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(gz.body).toString(), body);
    const br = await send(edges.up.workers.url, 'GET', s, { ...PRIMARY, 'accept-encoding': 'br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(zlib.brotliDecompressSync(br.body).toString(), body);
    const plain = await send(edges.up.workers.url, 'GET', s, PRIMARY);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.text, body);
    const f = await fetch(`${edges.up.workers.url}${s}`, { headers: PRIMARY });
    assert.equal(await f.text(), body);
  });
});
