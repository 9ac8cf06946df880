// Response policies, CORS, request limits, tracing and the health route, black-box, on both
// runtimes, with the shipped edge/edge.toml: every header of a policy on an origin answer, an
// edge 404 and a cache hit; preflights answered at the edge with no origin call (the origin's own
// log has no line for them); 431; a trace id that reaches the origin and both access logs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ROOT, raw, startStack } from './stack.mjs';

let env;
before(async () => {
  env = await startStack();
});
after(async () => {
  await env?.stop();
});

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'";
/** [headers_policies.web] in edge/edge.toml. */
const WEB = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'content-security-policy': CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};
/** [headers_policies.api]. */
const API = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function assertHeaders(r, expected, what) {
  for (const [k, v] of Object.entries(expected)) assert.equal(r.headers[k], v, `${what}: ${k}`);
  assert.equal(r.headers.server, undefined, `${what}: Server removed`);
  assert.equal(r.headers['x-powered-by'], undefined, `${what}: X-Powered-By removed`);
}

const id = () => `pol-${crypto.randomUUID()}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const runtime of ['spin', 'workers']) {
  describe(`response policies on the ${runtime} edge`, () => {
    const base = () => env.edges[runtime];

    test('every header of the web policy on a 200, an edge 404 and a cache hit', async () => {
      const first = await raw(base(), 'GET', '/');
      assert.equal(first.status, 200);
      assertHeaders(first, WEB, '200 from the bucket');
      const hit = await raw(base(), 'GET', '/favicon.svg');
      const hit2 = await raw(base(), 'GET', '/favicon.svg');
      assert.match(hit2.headers['cache-status'], /hit/, `second /favicon.svg: ${hit2.headers['cache-status']} (first ${hit.headers['cache-status']})`);
      assertHeaders(hit2, WEB, 'cache hit');
      const missing = await raw(base(), 'GET', '/no-such-file.js');
      assert.equal(missing.status, 404);
      assert.equal(missing.headers['content-type'], 'application/problem+json');
      assertHeaders(missing, WEB, 'edge 404');
      assert.equal(first.headers['server-timing'], undefined, 'Server-Timing is off unless a policy turns it on');
    });

    test('API answers carry the API policy, and the statistics Server-Timing', async () => {
      const r = await raw(base(), 'GET', '/api/nothing-here');
      assert.equal(r.status, 404);
      assertHeaders(r, API, 'origin 404');
      const stats = await raw(base(), 'GET', `/api/stats/daily?from=2026-01-01&to=2026-01-02&k=${id()}`);
      assert.equal(stats.status, 200);
      assertHeaders(stats, API, 'statistics');
      assert.match(stats.headers['server-timing'], /^edge;dur=[\d.]+, identity;dur=[\d.]+, cache;dur=[\d.]+, origin;dur=[\d.]+$/);
    });

    test('a preflight from an allowed origin is answered at the edge, a disallowed one gets no CORS headers', async () => {
      for (const [origin, allowed] of [['https://app.verge.dev', true], ['https://verge.dev.evil.test', false]]) {
        const rid = id();
        const r = await raw(base(), 'OPTIONS', '/api/partners/acme/orders', {
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-api-key', 'x-request-id': rid },
        });
        assert.equal(r.status, 204, origin);
        assert.equal(r.headers.vary, 'origin');
        if (allowed) {
          assert.equal(r.headers['access-control-allow-origin'], origin);
          assert.equal(r.headers['access-control-allow-methods'], 'GET, HEAD, POST');
          assert.equal(r.headers['access-control-allow-headers'], 'content-type, authorization, x-api-key, idempotency-key');
          assert.equal(r.headers['access-control-max-age'], '600');
        } else {
          assert.deepEqual(Object.keys(r.headers).filter((k) => k.startsWith('access-control-')), [], origin);
        }
        // No identity (an API key would be needed), no rate limit, no origin call.
        const line = await env.accessLog(runtime, rid);
        assert.equal(line.status, 204);
        assert.equal(line.origin_ms, undefined);
        await sleep(100);
        assert.deepEqual(env.originLog(runtime, rid), [], 'the origin never saw the preflight');
      }
    });

    test('the allowed origin is echoed alone, on cache hits too, and never handed to another origin', async () => {
      // The web app's files are cached (cache policy "site") and readable by Verge's sites.
      await raw(base(), 'GET', '/favicon.svg');
      const a = await raw(base(), 'GET', '/favicon.svg', { headers: { origin: 'https://a.verge.dev' } });
      assert.match(a.headers['cache-status'], /hit/);
      assert.equal(a.headers['access-control-allow-origin'], 'https://a.verge.dev');
      const b = await raw(base(), 'GET', '/favicon.svg', { headers: { origin: 'https://b.verge.dev' } });
      assert.match(b.headers['cache-status'], /hit/);
      assert.equal(b.headers['access-control-allow-origin'], 'https://b.verge.dev');
      for (const evil of ['https://evil.test', 'https://verge.dev.evil.test']) {
        const r = await raw(base(), 'GET', '/favicon.svg', { headers: { origin: evil } });
        assert.match(r.headers['cache-status'], /hit/);
        assert.equal(r.headers['access-control-allow-origin'], undefined, evil);
        assert.equal(r.headers.vary.split(',').filter((t) => t.trim().toLowerCase() === 'origin').length, 1);
      }
      // On the API: the expose list, and the origin never sees the request's Origin as a key.
      const s = await raw(base(), 'GET', `/api/stats/daily?from=2026-02-01&to=2026-02-02&k=${id()}`, { headers: { origin: 'https://a.verge.dev' } });
      assert.equal(s.headers['access-control-allow-origin'], 'https://a.verge.dev');
      assert.equal(s.headers['access-control-expose-headers'], 'x-request-id, ratelimit, ratelimit-policy, retry-after');
    });

    test('431 for oversized or too many header fields, with a problem body', async () => {
      const big = await raw(base(), 'GET', '/api/nothing-here', { headers: { 'x-a': 'a'.repeat(10_000), 'x-b': 'b'.repeat(10_500) } });
      assert.equal(big.status, 431);
      assert.equal(big.json.type, 'https://verge.dev/problems/headers-too-large');
      const headers = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`x-h${i}`, '1']));
      const many = await raw(base(), 'GET', '/', { headers });
      assert.equal(many.status, 431);
      assertHeaders(await raw(base(), 'GET', '/api/nothing-here', { headers: { 'x-a': 'a'.repeat(10_000) } }), API, 'under the limit');
    });

    test('a client trace id reaches the origin, with X-Amzn-Trace-Id from it, and both access logs', async () => {
      const traceId = crypto.randomBytes(16).toString('hex');
      const rid = id();
      const r = await raw(base(), 'GET', '/api/nothing-here', {
        headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=abc', 'x-request-id': rid },
      });
      assert.equal(r.status, 404);
      const edgeLine = await env.accessLog(runtime, rid);
      assert.equal(edgeLine.trace_id, traceId);
      assert.ok(edgeLine.origin_ms >= 0, JSON.stringify(edgeLine));
      // Both edges relay the origin's body as a stream and know its size only from a
      // Content-Length, which the origin's chunked answer does not have.
      if (edgeLine.bytes !== undefined) assert.ok(edgeLine.bytes > 0, JSON.stringify(edgeLine));
      let originLines = [];
      for (let i = 0; i < 50 && originLines.length === 0; i += 1) {
        originLines = env.originLog(runtime, rid);
        await sleep(20);
      }
      assert.equal(originLines.length, 1);
      assert.equal(originLines[0].trace_id, traceId);
      // Without one, the edge starts a trace: the same id in both logs.
      const rid2 = id();
      await raw(base(), 'GET', '/api/nothing-here', { headers: { 'x-request-id': rid2, traceparent: 'garbage' } });
      const minted = (await env.accessLog(runtime, rid2)).trace_id;
      assert.match(minted, /^[0-9a-f]{32}$/);
      for (let i = 0; i < 50 && originLines.length < 2; i += 1) {
        originLines = [...env.originLog(runtime, rid), ...env.originLog(runtime, rid2)];
        await sleep(20);
      }
      assert.equal(originLines[1].trace_id, minted);
    });

    test('the access log says how the rate limit decided', async () => {
      const rid = id();
      await raw(base(), 'POST', '/api/numbers', { headers: { 'x-request-id': rid, 'content-type': 'application/json' }, body: '{"value":"x"}' });
      const line = await env.accessLog(runtime, rid);
      assert.equal(line.rate_limit_decision, 'allowed');
    });

    test('the health route answers the build and config version without an origin call', async () => {
      const rid = id();
      const r = await raw(base(), 'GET', '/_verge/health', { headers: { 'x-request-id': rid } });
      assert.equal(r.status, 200);
      assert.equal(r.headers['cache-control'], 'no-store');
      assert.equal((await env.accessLog(runtime, rid)).bytes, Buffer.byteLength(r.text), 'the log has the size of an answer the edge made');
      const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
      assert.match(r.json.build.commit, new RegExp(`^${commit}(-dirty)?$`));
      assert.ok(!Number.isNaN(Date.parse(r.json.build.time)));
      // The version is the SHA-256 of the embedded config's source (the build embeds edge/edge.toml).
      const hash = crypto.createHash('sha256').update(fs.readFileSync(`${ROOT}/edge/edge.toml`)).digest('hex').slice(0, 16);
      assert.equal(r.json.config.version, hash);
      await sleep(100);
      assert.deepEqual(env.originLog(runtime, rid), []);
      assert.equal((await raw(base(), 'POST', '/_verge/health', { body: '' })).status, 405);
    });
  });
}
