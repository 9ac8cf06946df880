// The spine, end to end on the real runtimes: browser-like requests to the edge (Spin build
// under wasmtime and Workers build on workerd), which reads a private bucket on moto and
// forwards SigV4-signed requests to the origin component, which stores in DynamoDB on moto.
// moto checks every signature, so an unsigned or wrongly signed hop fails these tests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, postWith, raw, signForOrigin, startStack } from './stack.mjs';

let env;
before(async () => {
  env = await startStack();
});
after(async () => {
  await env?.stop();
});

// The built app (scripts/build.sh): index.html and the entry script it names (assets/index-HASH.js).
const indexHtml = readFileSync(path.join(ROOT, 'web/dist/index.html'), 'utf8');
const entryJs = /<script type="module" crossorigin src="([^"]+)"/.exec(indexHtml)[1];
const today = () => new Date().toISOString().slice(0, 10);

for (const runtime of ['spin', 'workers']) {
  describe(`edge on ${runtime}`, () => {
    const edge = () => env.edges[runtime];

    // The edge holds at most [edge] max_body_bytes (256 KB) of a request body: a larger declared
    // length is refused before the body arrives, a chunked one is cut off at the limit.
    test('request bodies are bounded: 413 from Content-Length before reading, and from a chunked body at the limit', async () => {
      const t0 = Date.now();
      const declared = await postWith(`${edge()}/api/numbers`, { 'content-type': 'application/json', 'content-length': String(1024 * 1024) },
        (req) => req.write('{"value":1'));
      assert.equal(declared.status, 413);
      assert.equal(declared.json.type, 'https://verge.dev/problems/body-too-large');
      assert.ok(Date.now() - t0 < 5000, 'answered without waiting for the declared megabyte');
      const chunked = await postWith(`${edge()}/api/numbers`, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, (req) => {
        for (let i = 0; i < 40; i += 1) req.write('x'.repeat(16 * 1024));
        req.end();
      });
      assert.equal(chunked.status, 413);
      assert.equal(chunked.json.type, 'https://verge.dev/problems/body-too-large');
    });

    test('serves the page from the private bucket', async () => {
      const r = await raw(edge(), 'GET', '/');
      assert.equal(r.status, 200);
      assert.equal(r.text, indexHtml);
      assert.match(r.headers['content-type'], /^text\/html/);
      assert.equal(r.headers['x-amz-request-id'], undefined, 'S3 headers stay at the edge');
      const direct = await raw(env.stack.moto, 'GET', `/${env.stack.bucket}/index.html`);
      assert.equal(direct.status, 403, 'the bucket refuses unsigned reads');
    });

    test('relays conditional, HEAD and range reads of an asset as S3 answers them', async () => {
      const appJs = readFileSync(path.join(ROOT, 'web/dist', entryJs), 'utf8');
      const full = await raw(edge(), 'GET', entryJs);
      assert.equal(full.status, 200);
      assert.equal(full.text, appJs);
      assert.ok(full.headers.etag, 'the ETag comes through');
      const unchanged = await raw(edge(), 'GET', entryJs, { headers: { 'if-none-match': full.headers.etag } });
      assert.equal(unchanged.status, 304);
      assert.equal(unchanged.text, '');
      assert.ok(unchanged.headers['x-request-id']);
      const head = await raw(edge(), 'HEAD', entryJs);
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
      assert.equal(head.headers.etag, full.headers.etag);
      const part = await raw(edge(), 'GET', entryJs, { headers: { range: 'bytes=0-9' } });
      assert.equal(part.status, 206);
      assert.equal(part.text, appJs.slice(0, 10));
      assert.equal(part.headers['content-range'], `bytes 0-9/${Buffer.byteLength(appJs)}`);
    });

    test('serves the build info the page shows', async () => {
      const r = await raw(edge(), 'GET', '/build.json');
      assert.equal(r.status, 200);
      assert.match(r.json.commit, /^[0-9a-f]{12}(-dirty)?$|^unknown$/);
      assert.ok(!Number.isNaN(Date.parse(r.json.time)));
    });

    test('answers a deep link with the app (SPA fallback)', async () => {
      const r = await raw(edge(), 'GET', '/stats/2026/november');
      assert.equal(r.status, 200);
      assert.equal(r.text, indexHtml);
    });

    test('answers a missing asset with 404 and a problem body', async () => {
      const r = await raw(edge(), 'GET', '/assets/missing.js');
      assert.equal(r.status, 404);
      assert.equal(r.headers['content-type'], 'application/problem+json');
      assert.equal(r.json.status, 404);
      assert.doesNotMatch(r.text, /NoSuchKey|<Error>/);
    });

    test('keeps a well-formed x-request-id and mints one otherwise', async () => {
      const kept = await raw(edge(), 'GET', '/', { headers: { 'x-request-id': 'test-abc.123' } });
      assert.equal(kept.headers['x-request-id'], 'test-abc.123');
      const minted = await raw(edge(), 'GET', '/', { headers: { 'x-request-id': 'bad id <script>' } });
      assert.match(minted.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });

    test('traversal attempts never reach a key other than the normalised path', async () => {
      const attacks = [
        '/../index.html',
        '/assets/../../build.json',
        '/%2e%2e/build.json',
        '/assets/%2e%2e/%2e%2e/build.json',
        '/assets/..%2fbuild.json',
        '/assets/%2F..%2Fbuild.json',
        '/assets/%5c..%5cbuild.json',
        '/assets/%252e%252e/build.json',
        '/assets/%c0%ae%c0%ae/build.json',
        '/assets/..;/build.json',
      ];
      for (const attack of attacks) {
        const r = await raw(edge(), 'GET', attack);
        // Either refused as a bad path, or served from exactly the path a WHATWG URL parser
        // (workerd's) normalises it to; never a 5xx, never a different object.
        if (r.status === 400) {
          assert.equal(r.json.type, 'https://verge.dev/problems/bad-path', attack);
          continue;
        }
        const normalised = new URL(attack, 'http://x').pathname;
        const expected = await raw(edge(), 'GET', normalised);
        assert.ok(r.status < 500, `${attack}: ${r.status}`);
        assert.equal(r.status, expected.status, `${attack} -> ${normalised}`);
        if (r.status === 200) assert.equal(r.text, expected.text, `${attack} -> ${normalised}`);
        else assert.equal(r.json.type, expected.json.type, `${attack} -> ${normalised}`);
      }
    });

    test('answers 414 for a URL over 8,192 bytes', async () => {
      const r = await raw(edge(), 'GET', `/${'a'.repeat(8200)}`);
      assert.equal(r.status, 414);
      assert.equal(r.json.status, 414);
    });

    test('answers 405 with Allow for a method the behaviour does not allow', async () => {
      const r = await raw(edge(), 'POST', '/index.html', { body: 'x' });
      assert.equal(r.status, 405);
      assert.equal(r.headers.allow, 'GET, HEAD');
    });

    test('proxies an API call signed, and the number shows up in the daily statistics', async () => {
      const value = Math.round(Math.random() * 1e6) / 100;
      const post = await raw(edge(), 'POST', '/api/numbers', {
        headers: { 'content-type': 'application/json', 'x-request-id': `post-${runtime}` },
        body: JSON.stringify({ value }),
      });
      assert.equal(post.status, 201, post.text);
      assert.equal(post.json.value, value);
      assert.equal(post.json.day, today());
      assert.equal(post.headers['x-request-id'], `post-${runtime}`);

      const r = await raw(edge(), 'GET', `/api/stats/daily?from=${today()}&to=${today()}`);
      assert.equal(r.status, 200, r.text);
      const day = r.json.days.find((d) => d.date === today());
      assert.ok(day, r.text);
      assert.ok(day.count >= 1);
      assert.ok(day.min <= value && value <= day.max, `${value} within [${day.min}, ${day.max}]`);
      assert.ok(Math.abs(day.mean - day.sum / day.count) < 1e-9);
    });

    test('passes the origin’s validation errors through: 400 naming the field, 404, 405', async () => {
      const bad = await raw(edge(), 'POST', '/api/numbers', { headers: { 'content-type': 'application/json' }, body: '{"value":"7"}' });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.field, 'value');
      const malformed = await raw(edge(), 'POST', '/api/numbers', { body: '{"value":' });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.json.type, 'https://verge.dev/problems/malformed-json');
      const range = await raw(edge(), 'GET', '/api/stats/daily?from=2025-01-01&to=2026-12-31');
      assert.equal(range.status, 400);
      assert.equal(range.json.field, 'to');
      const unknown = await raw(edge(), 'GET', '/api/nothing-here');
      assert.equal(unknown.status, 404);
      const wrong = await raw(edge(), 'DELETE', '/api/numbers');
      assert.equal(wrong.status, 405);
      assert.equal(wrong.headers.allow, 'POST');
    });
  });
}

describe('origin signature checks', () => {
  const url = (p) => `${env.stack.origin}${p}`;
  const statsPath = () => `/api/stats/daily?from=${today()}&to=${today()}`;

  test('a request signed with the edge key is served', async () => {
    const headers = await signForOrigin(env.stack, { method: 'GET', url: url(statsPath()) });
    const r = await raw(env.stack.origin, 'GET', statsPath(), { headers });
    assert.equal(r.status, 200, r.text);
  });

  test('an unsigned request is refused with 403 and a problem body', async () => {
    const r = await raw(env.stack.origin, 'GET', statsPath());
    assert.equal(r.status, 403);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.equal(r.json.type, 'https://verge.dev/problems/signature-refused');
  });

  test('a tampered request is refused with 403', async () => {
    const body = JSON.stringify({ value: 1 });
    const headers = await signForOrigin(env.stack, { method: 'POST', url: url('/api/numbers'), body, headers: { 'content-type': 'application/json' } });
    const tamperedBody = await raw(env.stack.origin, 'POST', '/api/numbers', { headers, body: JSON.stringify({ value: 1000 }) });
    assert.equal(tamperedBody.status, 403);
    const addedIdentity = await raw(env.stack.origin, 'POST', '/api/numbers', { headers: { ...headers, 'x-verge-user': 'admin' }, body });
    assert.equal(addedIdentity.status, 403);
    const wrongSecret = await signForOrigin(env.stack, { method: 'POST', url: url('/api/numbers'), body, secret: 'not-the-secret' });
    assert.equal((await raw(env.stack.origin, 'POST', '/api/numbers', { headers: wrongSecret, body })).status, 403);
  });

  test('a stale request (signed 6 minutes ago) is refused with 403', async () => {
    const at = new Date(Date.now() - 6 * 60 * 1000);
    const headers = await signForOrigin(env.stack, { method: 'GET', url: url(statsPath()), at });
    const r = await raw(env.stack.origin, 'GET', statsPath(), { headers });
    assert.equal(r.status, 403);
    // The caller learns only "forbidden"; why (the 5-minute window) is in the origin's log line.
    assert.equal(r.json.detail, 'forbidden');
  });

  test('/health needs no signature and reports storage', async () => {
    const r = await raw(env.stack.origin, 'GET', '/health');
    assert.equal(r.status, 200);
    assert.equal(r.json.storage, 'ok');
  });
});
