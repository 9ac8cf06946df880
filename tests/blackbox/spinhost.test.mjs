// The Spin host (host/, target/host/verge-spin) as a black box: it serves host/tests/app/spin.toml
// (the test component host/testapp mounted four times) and the repository's own spin.toml is
// exercised by every other test file through scripts/devstack.py. Real redis-server, real SQLite
// files, real sockets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './stack.mjs';

const HOST = path.join(ROOT, 'target/host/verge-spin');
const APP = path.join(ROOT, 'host/tests/app/spin.toml');
const procs = [];

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts redis-server on a free loopback port, no persistence. */
async function startRedis() {
  const port = await freePort();
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  procs.push(p);
  for (let i = 0; i < 100; i += 1) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true); }).on('error', () => resolve(false));
    });
    if (ok) return { port, proc: p };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis-server did not start');
}

/** Starts the host; resolves with its URL once it prints "Serving", or rejects with its stderr. */
function startHost(args, env = {}) {
  const p = spawn(HOST, ['up', '--listen', '127.0.0.1:0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    createInterface({ input: p.stdout }).on('line', (l) => {
      const m = l.match(/^Serving (http:\/\/\S+)/);
      if (m) resolve({ url: m[1], proc: p, stderr: () => stderr });
    });
    p.once('exit', (code) => reject(Object.assign(new Error(`host exited with ${code}: ${stderr}`), { code, stderr })));
  });
}

/** Runs the host to completion (for startup failures and `check`). */
function runHost(args, env = {}) {
  const r = spawnSync(HOST, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

let redis;
let app; // reuse on (the default)
let fresh; // a fresh instance per request, its own state dir shared with `app2`
let plainOrigin;
let originHits = 0;
let originConnections = 0;
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'verge-host-state-'));

before(async () => {
  redis = await startRedis();
  plainOrigin = http.createServer((req, res) => { originHits += 1; res.end(`origin saw ${req.url}`); });
  plainOrigin.on('connection', () => { originConnections += 1; });
  await new Promise((r) => plainOrigin.listen(0, '127.0.0.1', r));
  const vars = {
    SPIN_VARIABLE_TOKEN: 's3cr3t-token',
    SPIN_VARIABLE_ALLOWED_ORIGIN: `http://127.0.0.1:${plainOrigin.address().port}`,
    SPIN_VARIABLE_REDIS_ADDRESS: `redis://127.0.0.1:${redis.port}`,
  };
  app = await startHost(['-f', APP, '--state-dir', stateDir, '--variable', 'greeting=hi'], vars);
  fresh = await startHost(['-f', APP, '--state-dir', stateDir, '--max-instance-reuse-count', '1', '--max-request-body-bytes', '1000'], vars);
});

after(async () => {
  for (const p of procs) p.kill('SIGTERM');
  await new Promise((r) => plainOrigin.close(r));
  fs.rmSync(stateDir, { recursive: true, force: true });
});

test('routes: an exact route beats a wildcard, the longer wildcard beats the shorter', async () => {
  assert.equal((await request(`${app.url}/env/WHO`)).text, 'exact'); // "/env/WHO" over "/env/..." and "/..."
  assert.equal((await request(`${app.url}/env/WHO/x`)).status, 404); // "/env/..." (deep): no variable "WHO/x"
  const echo = JSON.parse((await request(`${app.url}/echo/a/b?q=1`)).text); // "/..." (wild)
  assert.equal(echo.spin['spin-matched-route'], '/...');
  assert.equal(echo.spin['spin-path-info'], '/echo/a/b');
  // deep answers /env/... paths: WHO there is "deep"
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verge-routes-'));
  fs.writeFileSync(path.join(dir, 'spin.toml'), `spin_manifest_version = 2
[application]
name = "routes"
[[trigger.http]]
route = "/api/..."
component = "api"
[component.api]
source = "${path.join(ROOT, 'target/wasm32-wasip2/release/verge_spin_testapp.wasm')}"
environment = { WHO = "api" }
`);
  const h = await startHost(['-f', path.join(dir, 'spin.toml'), '--state-dir', dir]);
  const api = JSON.parse((await request(`${h.url}/api/echo`)).text);
  assert.equal(api.spin['spin-matched-route'], '/api/...');
  assert.equal(api.spin['spin-path-info'], '/echo');
  assert.equal(api.spin['spin-component-route'], '/api');
  assert.equal((await request(`${h.url}/other`)).status, 404, 'no route: 404 from the host');
  h.proc.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the request as Spin hands it over: original authority and the spin-* headers; client spin-* values replaced', async () => {
  const port = new URL(app.url).port;
  const r = await request(`${app.url}/echo/x?y=1`, { headers: { host: `edge.example.test:${port}`, 'spin-client-addr': '6.6.6.6:1' } });
  const seen = JSON.parse(r.text);
  assert.equal(seen.uri, `http://edge.example.test:${port}/echo/x?y=1`);
  assert.equal(seen.spin['spin-full-url'], `http://edge.example.test:${port}/echo/x?y=1`);
  assert.equal(seen.spin['spin-path-info'], '/echo/x');
  assert.equal(seen.spin['spin-matched-route'], '/...');
  assert.equal(seen.spin['spin-base-path'], '/');
  assert.match(seen.spin['spin-client-addr'], /^127\.0\.0\.1:\d+$/);
});

test('a private component is not reachable from outside, only at http://NAME.spin.internal', async () => {
  // No public route leads to "secret": /env/WHO answers "exact", everything else "wild"/"deep".
  for (const p of ['/env/WHO', '/secret', '/']) {
    const r = await request(`${app.url}${p}`);
    assert.notEqual(r.text, 'secret');
  }
  const r = await request(`${app.url}/fetch?url=http://secret.spin.internal/env/WHO`);
  assert.equal(r.status, 200);
  assert.equal(r.text, '200 secret');
});

test('outbound HTTP: an allowed host is reached; any other host, port or component is refused as Spin refuses it', async () => {
  const allowed = `http://127.0.0.1:${plainOrigin.address().port}`;
  const ok = await request(`${app.url}/fetch?url=${allowed}/hello`);
  assert.equal(ok.text, '200 origin saw /hello');
  const before = originHits;
  const other = await freePort();
  const denied = await request(`${app.url}/fetch?url=http://127.0.0.1:${other}/x`);
  assert.equal(denied.status, 502);
  assert.match(denied.text, /HttpRequestDenied/);
  const wrongScheme = await request(`${app.url}/fetch?url=https://127.0.0.1:${plainOrigin.address().port}/x`);
  assert.match(wrongScheme.text, /HttpRequestDenied/);
  // "deep" (route /env/...) lists no outbound hosts at all: not even the origin "wild" may reach.
  const fromDeep = await request(`${app.url}/env/fetch?url=${allowed}/x`);
  assert.equal(fromDeep.status, 502);
  assert.match(fromDeep.text, /HttpRequestDenied/);
  const chainFromDeep = await request(`${app.url}/env/fetch?url=http://secret.spin.internal/env/WHO`);
  assert.match(chainFromDeep.text, /HttpRequestDenied/);
  assert.equal(originHits, before, 'a refused request never left the host');
  assert.match(app.stderr(), /not allowed: add it to allowed_outbound_hosts/);
});

test('outbound connections are pooled: many requests from many instances share a few keep-alive connections', async () => {
  const allowed = `http://127.0.0.1:${plainOrigin.address().port}`;
  const before = originConnections;
  // Fresh instances (reuse off) each make one outbound request: the host's client is shared.
  for (let i = 0; i < 20; i += 1) {
    assert.equal((await request(`${fresh.url}/fetch?url=${allowed}/pooled`)).text, '200 origin saw /pooled');
  }
  assert.ok(originConnections - before <= 2, `${originConnections - before} connections for 20 requests`);
});

test('variables: templates resolved from --variable and SPIN_VARIABLE_*, undeclared ones undefined', async () => {
  assert.equal((await request(`${app.url}/var/greeting`)).text, 'hi, world');
  assert.equal((await request(`${fresh.url}/var/greeting`)).text, 'hello, world', 'the manifest default');
  assert.equal((await request(`${app.url}/var/token`)).text, 's3cr3t-token');
  const undef = await request(`${app.url}/var/nope`);
  assert.equal(undef.status, 404);
  assert.match(undef.text, /Undefined/);
  assert.match((await request(`${app.url}/var/Bad-Name`)).text, /InvalidName/);
});

test('a missing required variable stops the host at start, naming it and never a value', async () => {
  const r = runHost(['up', '--listen', '127.0.0.1:0', '-f', APP], { SPIN_VARIABLE_ALLOWED_ORIGIN: 'http://127.0.0.1:1' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /token/);
  assert.doesNotMatch(r.stderr, /s3cr3t/);
});

test('bad manifests are refused with file, line and column; check accepts the good ones', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verge-manifest-'));
  const bad = path.join(dir, 'spin.toml');
  fs.writeFileSync(bad, 'spin_manifest_version = 2\n[application]\nname = "x"\n[component.a]\nsource = "a.wasm"\nallowed_outbund_hosts = []\n');
  const r = runHost(['check', '-f', bad]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /spin\.toml:6:1/);
  assert.match(r.stderr, /allowed_outbound_hosts/, 'a did-you-mean hint');
  const good = runHost(['check', '-f', APP], { SPIN_VARIABLE_TOKEN: 't', SPIN_VARIABLE_ALLOWED_ORIGIN: 'http://127.0.0.1:1' });
  assert.equal(good.code, 0, good.stderr);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('key-value: values written by one instance are read by the next, with instance reuse off, and by another host process', async () => {
  // With --max-instance-reuse-count 1 every request gets a fresh instance: its counter is always 1.
  assert.equal((await request(`${fresh.url}/instance`)).text, '1');
  assert.equal((await request(`${fresh.url}/instance`)).text, '1');
  const key = `k${Date.now()}`;
  assert.equal((await request(`${fresh.url}/kv/${key}`, { method: 'PUT', body: 'v1' })).status, 200);
  assert.equal((await request(`${fresh.url}/kv/${key}`)).text, 'v1');
  // The other host process uses the same SQLite file.
  assert.equal((await request(`${app.url}/kv/${key}`)).text, 'v1');
  assert.match((await request(`${fresh.url}/kv-keys`)).text, new RegExp(key));
  assert.equal((await request(`${fresh.url}/kv/${key}`, { method: 'DELETE' })).status, 200);
  assert.equal((await request(`${app.url}/kv/${key}`)).status, 404);
  // A label the component does not list is refused; one the host has no backend for too.
  assert.match((await request(`${app.url}/kv-open/other`)).text, /AccessDenied/);
});

test('key-value: a store the host cannot open gives the guest an error value, not a hang', async () => {
  const broken = fs.mkdtempSync(path.join(os.tmpdir(), 'verge-host-broken-'));
  fs.mkdirSync(path.join(broken, 'sqlite_key_value.db')); // a directory where the file should be
  const h = await startHost(['-f', APP, '--state-dir', broken], {
    SPIN_VARIABLE_TOKEN: 't', SPIN_VARIABLE_ALLOWED_ORIGIN: 'http://127.0.0.1:1', SPIN_VARIABLE_REDIS_ADDRESS: `redis://127.0.0.1:${redis.port}`,
  });
  const t0 = Date.now();
  const r = await request(`${h.url}/kv/a`);
  assert.equal(r.status, 500);
  assert.match(r.text, /Other/);
  assert.ok(Date.now() - t0 < 5000);
  h.proc.kill('SIGTERM');
  fs.rmSync(broken, { recursive: true, force: true });
});

test('redis: commands reach a real redis-server', async () => {
  const key = `n${Date.now()}`;
  assert.equal((await request(`${app.url}/redis/incr/${key}`, { method: 'POST' })).text, '1');
  assert.equal((await request(`${fresh.url}/redis/incr/${key}`, { method: 'POST' })).text, '2');
  assert.equal((await request(`${app.url}/redis/get/${key}`)).text, '2');
  const ex = await request(`${app.url}/redis/execute`, { method: 'POST', body: JSON.stringify(['SET', `${key}s`, 'abc', 'PX', 60000]) });
  assert.deepEqual(JSON.parse(ex.text), [{ status: 'OK' }]);
  const get = await request(`${app.url}/redis/execute`, { method: 'POST', body: JSON.stringify(['MGET', `${key}s`, `${key}none`]) });
  assert.deepEqual(JSON.parse(get.text), ['abc', null]);
  const ttl = await request(`${app.url}/redis/execute`, { method: 'POST', body: JSON.stringify(['PTTL', `${key}s`]) });
  assert.ok(JSON.parse(ttl.text)[0] > 50000);
});

test('redis: a server that is down gives the guest an error value within seconds; a non-allowed address is refused', async () => {
  const deadPort = await freePort();
  const h = await startHost(['-f', APP, '--state-dir', stateDir], {
    SPIN_VARIABLE_TOKEN: 't', SPIN_VARIABLE_ALLOWED_ORIGIN: 'http://127.0.0.1:1', SPIN_VARIABLE_REDIS_ADDRESS: `redis://127.0.0.1:${deadPort}`,
  });
  const t0 = Date.now();
  const r = await request(`${h.url}/redis/incr/x`, { method: 'POST' });
  assert.equal(r.status, 502);
  assert.match(r.text, /Other/);
  assert.ok(Date.now() - t0 < 5000, 'no hang');
  h.proc.kill('SIGTERM');
  // "deep" (route /env/...) lists no redis:// address: its open is refused before any connection.
  const refused = await request(`${app.url}/env/redis/incr/x`, { method: 'POST' });
  assert.equal(refused.status, 502);
  assert.match(refused.text, /InvalidAddress/);
});

test('a guest that traps or runs out of memory fails its own request with 500; the host keeps serving', async () => {
  const trap = await request(`${app.url}/trap`);
  assert.equal(trap.status, 500);
  assert.equal((await request(`${app.url}/env/WHO`)).text, 'exact');
  const oom = await request(`${app.url}/oom`);
  assert.equal(oom.status, 500);
  const echo = await request(`${app.url}/echo/after`);
  assert.equal(echo.status, 200);
  assert.match(app.stderr(), /failed/);
});

test('request bodies over the limit: 413 from Content-Length before reading; a streamed one is cut off', async () => {
  const big = 'x'.repeat(2000);
  const r = await request(`${fresh.url}/echo/big`, { method: 'POST', body: big, headers: { 'content-length': String(big.length) } });
  assert.equal(r.status, 413);
  const chunked = await request(`${fresh.url}/echo/big`, { method: 'POST', body: big, headers: { 'transfer-encoding': 'chunked' } });
  assert.equal(chunked.status, 200);
  assert.match(JSON.parse(chunked.text).body_len, /error/);
  const small = await request(`${fresh.url}/echo/small`, { method: 'POST', body: 'abc' });
  assert.equal(JSON.parse(small.text).body_len, '3');
});

