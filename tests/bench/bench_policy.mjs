// The finishing step's cost on each runtime (run by scripts/bench-policy.sh; prints figures,
// asserts nothing): the open route of tests/bench/edge-bench.toml against the same route with a
// full response policy (/policy/*: every security header, `remove`, Server-Timing, CORS for an
// allowed origin, and a client traceparent + tracestate), same trivial origin, on wasmtime
// (`wasmtime serve`) and workerd (miniflare). Median of BENCH_N sequential requests per round,
// BENCH_ROUNDS interleaved rounds; the figure is the median over rounds.
import http from 'node:http';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const N = Number(process.env.BENCH_N ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

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
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, us: Number(process.hrtime.bigint() - t0) / 1000 }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function series(base, p, headers) {
  const out = [];
  for (let i = 0; i < N; i += 1) {
    const r = await timed(base, p, headers);
    if (r.status !== 200) throw new Error(`${base}${p}: ${r.status}`);
    out.push(r.us);
  }
  return median(out.slice(Math.floor(N / 10)));
}

const POLICY_HEADERS = {
  origin: 'https://app.example.com',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
};

async function main() {
  const origin = http.createServer((req, res) => {
    const body = '{"ok":true}';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, server: 'bench', 'x-powered-by': 'node' }).end(body);
  });
  await new Promise((r) => origin.listen(0, '127.0.0.1', r));
  const env = {
    VERGE_ORIGIN_URL: `http://127.0.0.1:${origin.address().port}`,
    VERGE_ORIGIN_ACCESS_KEY_ID: 'BENCHKEY',
    VERGE_ORIGIN_SECRET_ACCESS_KEY: randomBytes(32).toString('base64url'),
    VERGE_JWKS_URL: 'http://127.0.0.1:9/jwks.json',
  };
  const wasmtime = execFileSync('python3', ['-c', 'import pathlib, wasmtime_cli; print(pathlib.Path(wasmtime_cli.__file__).parent / "wasmtime")']).toString().trim();
  const spinPort = 19000 + Math.floor(Math.random() * 1000);
  const spin = spawn(wasmtime, ['serve', '-S', 'cli', '--addr', `127.0.0.1:${spinPort}`, ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    path.join(ROOT, 'target/bench/wasm32-wasip2/release/verge_edge_spin.wasm')], { stdio: 'ignore' });
  const dir = path.join(ROOT, 'edge/workers/build-bench');
  const mf = new Miniflare({
    modules: true, scriptPath: path.join(dir, 'index.js'), modulesRoot: dir,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }], compatibilityDate: '2025-09-01', bindings: env, host: '127.0.0.1', port: 0,
    handleRuntimeStdio: (stdout, stderr) => {
      stdout.resume();
      stderr.resume();
    },
  });
  const edges = { wasmtime: `http://127.0.0.1:${spinPort}`, workerd: (await mf.ready).toString().replace(/\/$/, '') };
  // wasmtime compiles the component before it listens: up to a minute on a busy machine.
  for (let i = 0; i < 600; i += 1) {
    try {
      if ((await timed(edges.wasmtime, '/open/x', {})).status === 200) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const check = await timed(edges.workerd, '/policy/x', POLICY_HEADERS);
  if (check.headers['access-control-allow-origin'] !== POLICY_HEADERS.origin || !check.headers['server-timing']) throw new Error('the policy route is not applying its policy');

  const res = { wasmtime: { open: [], policy: [] }, workerd: { open: [], policy: [] } };
  for (const base of Object.values(edges)) await series(base, '/open/x', {}); // warm-up
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [name, base] of Object.entries(edges)) {
      res[name].open.push(await series(base, '/open/x', {}));
      res[name].policy.push(await series(base, '/policy/x', POLICY_HEADERS));
    }
  }
  console.log(`## The finishing step with a full policy (median µs per request, ${N} sequential requests, median of ${ROUNDS} interleaved rounds)\n`);
  console.log('| runtime | open route | open route + headers policy, CORS, trace | added |');
  console.log('|---|---:|---:|---:|');
  for (const [name, r] of Object.entries(res)) {
    const open = median(r.open);
    const policy = median(r.policy);
    console.log(`| ${name} | ${Math.round(open)} | ${Math.round(policy)} | ${Math.round(policy - open)} |`);
  }
  spin.kill();
  await mf.dispose();
  origin.close();
  agent.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
