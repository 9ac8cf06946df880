// Identity benchmarks (run by scripts/bench-auth.sh; prints figures, asserts nothing).
//
// 1. The edge's cost of a valid JWT, on workerd (miniflare) and under wasmtime: median latency of
//    a JWT-protected proxied route minus an open route to the same trivial origin, with a token
//    verified for the first time on every request, and with one repeated token (cache hits).
// 2. Requests per second for the JWT-protected route on miniflare: Verge's Workers build against
//    the same route as a Hono worker with Hono's `jwk` middleware; same keys, same origin, wrk -c2,
//    interleaved rounds, medians and their ratio: once with the JWKS endpoint answering at once,
//    once with it BENCH_JWKS_LATENCY_MS (20) away. Environment: BENCH_N, BENCH_ROUNDS,
//    BENCH_DURATION (seconds per wrk run).
import http from 'node:http';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { startIssuer } from '../blackbox/issuer.mjs';
import { PYTHON } from '../blackbox/stack.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const N = Number(process.env.BENCH_N ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const JWKS_LATENCY_MS = Number(process.env.BENCH_JWKS_LATENCY_MS ?? 20);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function timed(base, p, headers) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: u.hostname, port: u.port, path: p, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, us: Number(process.hrtime.bigint() - t0) / 1000 }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function series(base, p, headersFor) {
  const out = [];
  for (let i = 0; i < N; i += 1) {
    const r = await timed(base, p, headersFor(i));
    if (r.status !== 200) throw new Error(`${base}${p}: ${r.status}`);
    out.push(r.us);
  }
  return median(out.slice(Math.floor(N / 10))); // drop warm-up
}

async function main() {
  const issuer = await startIssuer();
  const origin = http.createServer((req, res) => {
    const body = '{"ok":true}';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
  });
  await new Promise((r) => origin.listen(0, '127.0.0.1', r));
  const originUrl = `http://127.0.0.1:${origin.address().port}`;
  const env = {
    VERGE_ORIGIN_URL: originUrl,
    VERGE_ORIGIN_ACCESS_KEY_ID: 'BENCHKEY',
    // 32 random bytes: the edge refuses an origin secret with less key material.
    VERGE_ORIGIN_SECRET_ACCESS_KEY: randomBytes(32).toString('base64url'),
    VERGE_JWKS_URL: issuer.url,
  };

  const wasmtime = execFileSync(PYTHON, ['-c', 'import pathlib, wasmtime_cli; print(pathlib.Path(wasmtime_cli.__file__).parent / "wasmtime")']).toString().trim();
  const spinPort = 18000 + Math.floor(Math.random() * 1000);
  const spin = spawn(wasmtime, ['serve', '-S', 'cli', '--addr', `127.0.0.1:${spinPort}`, ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    path.join(ROOT, 'target/bench/wasm32-wasip2/release/verge_edge_spin.wasm')], { stdio: 'ignore' });
  const mfOpts = (dir, script, bindings) => ({
    modules: true, scriptPath: path.join(dir, script), modulesRoot: dir,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }], compatibilityDate: '2025-09-01', bindings, host: '127.0.0.1', port: 0,
    // The edge's access log would be one console line per request: not part of the figures.
    handleRuntimeStdio: (stdout, stderr) => {
      stdout.resume();
      stderr.resume();
    },
  });
  const verge = new Miniflare(mfOpts(path.join(ROOT, 'edge/workers/build-bench'), 'index.js', env));
  const hono = new Miniflare(mfOpts(path.join(ROOT, 'tests/bench/build'), 'hono.js', { JWKS_URL: issuer.url, ORIGIN_URL: originUrl }));
  const edges = { wasmtime: `http://127.0.0.1:${spinPort}`, workerd: (await verge.ready).toString().replace(/\/$/, '') };
  const honoUrl = (await hono.ready).toString().replace(/\/$/, '');
  // The floor: a JS worker that only proxies to the same origin.
  const plain = new Miniflare({
    modules: true, script: 'export default { fetch: (req, env) => fetch(env.ORIGIN_URL + new URL(req.url).pathname) }',
    bindings: { ORIGIN_URL: originUrl }, compatibilityDate: '2025-09-01', host: '127.0.0.1', port: 0,
  });
  const plainUrl = (await plain.ready).toString().replace(/\/$/, '');
  for (let i = 0; i < 100; i += 1) {
    try {
      if ((await timed(edges.wasmtime, '/open/x', {})).status === 200) break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const bearer = (t) => ({ authorization: `Bearer ${t}` });
  const same = { ES256: issuer.mint({ kid: 'ec1' }), RS256: issuer.mint({ kid: 'rsa1' }) };
  console.log(`## Edge cost of a valid JWT (median of ${N} sequential requests, µs; minus the open route)\n`);
  console.log('| runtime | open route | ES256 first | ES256 cached | RS256 first | RS256 cached |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, base] of Object.entries(edges)) {
    await series(base, '/open/x', () => ({})); // warm-up: JIT, connections, JWKS
    await series(base, '/api/x', () => bearer(same.ES256));
    const open = await series(base, '/open/x', () => ({}));
    const cells = [];
    for (const [alg, kid] of [['ES256', 'ec1'], ['RS256', 'rsa1']]) {
      // Fresh tokens (distinct jti) are verified on every request; the same token hits the cache.
      const fresh = Array.from({ length: N }, (_, i) => issuer.mint({ kid, claims: { jti: `${name}-${alg}-${i}-${Date.now()}` } }));
      const first = await series(base, '/api/x', (i) => bearer(fresh[i]));
      const cached = await series(base, '/api/x', () => bearer(same[alg]));
      cells.push(`${Math.round(first - open)} (${Math.round(first)})`, `${Math.round(cached - open)} (${Math.round(cached)})`);
    }
    console.log(`| ${name} | ${Math.round(open)} | ${cells.join(' | ')} |`);
  }
  console.log('\nCells: added µs (total µs). "first" = every request carries a token never seen before.\n');

  // wrk runs asynchronously: the origin and the issuer live in this process and must keep serving.
  const wrk = async (url, token, seconds = DURATION) => {
    const { stdout: out } = await promisify(execFile)('wrk', ['-t2', '-c2', `-d${seconds}s`, '-H', `authorization: Bearer ${token}`, url]);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
    if (!rps) throw new Error(`${url}: ${out}`);
    const non2xx = Number((/Non-2xx or 3xx responses:\s+(\d+)/.exec(out) ?? [0, 0])[1]);
    if (non2xx) throw new Error(`${url}: ${non2xx} non-2xx`);
    return rps;
  };
  // Warm-up, then interleaved rounds. The JWKS endpoint answers at once in the first set (the
  // issuer runs beside the origin) and JWKS_LATENCY_MS later in the second, as a real issuer's
  // endpoint is some way from an edge: Hono's `jwk` fetches it on every request, Verge caches it.
  for (const url of [`${edges.workerd}/api/x`, `${honoUrl}/api/x`, `${edges.workerd}/open/x`, `${plainUrl}/x`]) await wrk(url, same.ES256, 2);
  const res = { verge: [], hono: [], vergeOpen: [], plain: [], vergeFar: [], honoFar: [] };
  const fetches = { near: 0, far: 0 };
  for (let r = 0; r < ROUNDS; r += 1) {
    issuer.state.latencyMs = 0;
    let before = issuer.state.fetches;
    res.verge.push(await wrk(`${edges.workerd}/api/x`, same.ES256));
    res.hono.push(await wrk(`${honoUrl}/api/x`, same.ES256));
    res.vergeOpen.push(await wrk(`${edges.workerd}/open/x`, same.ES256));
    res.plain.push(await wrk(`${plainUrl}/x`, same.ES256));
    fetches.near += issuer.state.fetches - before;
    issuer.state.latencyMs = JWKS_LATENCY_MS;
    before = issuer.state.fetches;
    res.vergeFar.push(await wrk(`${edges.workerd}/api/x`, same.ES256));
    res.honoFar.push(await wrk(`${honoUrl}/api/x`, same.ES256));
    fetches.far += issuer.state.fetches - before;
    console.error(`round ${r + 1}: ${Object.entries(res).map(([k, v]) => `${k} ${v.at(-1)}`).join(', ')} req/s`);
  }
  const m = Object.fromEntries(Object.entries(res).map(([k, v]) => [k, median(v)]));
  console.log(`## JWT-protected proxied route on miniflare (wrk -t2 -c2 -d${DURATION}s, ES256, one repeated token, median of ${ROUNDS} interleaved rounds)\n`);
  console.log('| worker | JWKS answered at once, req/s | JWKS ' + JWKS_LATENCY_MS + ' ms away, req/s |');
  console.log('|---|---:|---:|');
  console.log(`| Verge (Rust/wasm, JWKS and verified-token caches, SigV4 to the origin, access log) | ${m.verge.toFixed(0)} | ${m.vergeFar.toFixed(0)} |`);
  console.log(`| Hono 4.13 \`jwk\` middleware (fetches the JWKS on every request) | ${m.hono.toFixed(0)} | ${m.honoFar.toFixed(0)} |`);
  console.log(`| Verge, open route (no identity) | ${m.vergeOpen.toFixed(0)} | |`);
  console.log(`| plain JS worker proxying fetch (no identity, no signing, no log) | ${m.plain.toFixed(0)} | |`);
  console.log(`\nVerge / Hono = ${(m.verge / m.hono).toFixed(2)} with the JWKS answered at once, ${(m.vergeFar / m.honoFar).toFixed(2)} with it ${JWKS_LATENCY_MS} ms away (target >= 1.5).`);
  console.log(`JWKS fetches seen by the issuer during the rounds: ${fetches.near} at once, ${fetches.far} far.`);

  spin.kill();
  await verge.dispose();
  await hono.dispose();
  await plain.dispose();
  await issuer.close();
  origin.close();
  agent.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
