// Edge cache benchmarks (run by scripts/bench-cache.sh; prints figures, asserts nothing).
//
// 1. Throughput: wrk -t2 -c2 --latency, BENCH_ROUNDS interleaved rounds of BENCH_DURATION s per
//    case, medians: a cached asset (20 KB, `immutable`, policy "assets") and a cached API answer
//    (/api/stats/daily, policy "daily_stats") against the same routes without a cache policy,
//    against the origin alone and (Spin) the pass-through component. Spin is the project's host
//    (target/host/verge-spin, key-value on SQLite), with instance reuse and with a fresh instance
//    per request (hits then come from the key-value store); Workers is miniflare (Cache API).
// 2. Origin requests per 1,000 client requests replaying a realistic mix of daily-statistics
//    reads (8 users at once; shuffled query order, percent-encoded spellings, utm_* campaign tags
//    and click ids, per-user headers and cookies) through the shipped normalised key
//    (/api/stats/daily) and the same policy with query = "all" (/raw/stats/daily).
// 3. The uncached JWT-protected proxied route on workerd: Verge against a JS worker doing the
//    same work (scripts/bench-cache-jsworker.mjs: Hono, jose, aws4fetch), same run, and the
//    first request on a fresh isolate of each (what the bundle's size costs).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { Miniflare } = createRequire(path.join(ROOT, 'tests/package.json'))('miniflare');
const { startIssuer } = await import(path.join(ROOT, 'tests/blackbox/issuer.mjs'));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
// Seconds of load on each case before any is measured. V8 compiles wasm and JS functions with a
// baseline compiler first and optimises a function only after enough calls; code that runs once
// per request needs tens of thousands of requests to get there (with 2 s, a third of Verge's wasm
// time was still baseline code, and V8's compiler threads were busy optimising during the
// measurement). A deployed isolate serves far more than that, so the steady state is what counts.
const WARM = Number(process.env.BENCH_WARM ?? 15);
const BENCH = path.join(ROOT, 'target/bench-cache');
const variants = (process.env.BENCH_VARIANTS ?? '').split(',').filter(Boolean).map((d) => path.resolve(d));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---- the origin: plays the bucket and the API, counts what reaches it ----
const ASSET = Buffer.from(`/* app bundle */${'x'.repeat(20 * 1024 - 16)}`);
const STATS = Buffer.from(JSON.stringify({ days: Array.from({ length: 30 }, (_, i) => ({ day: `2026-11-${String(i + 1).padStart(2, '0')}`, count: i * 7 })) }));
const counts = new Map();
const origin = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://o');
  const from = u.searchParams.get('from') ?? '';
  if (from.startsWith('2025')) {
    const k = u.pathname.startsWith('/raw/') ? 'raw' : 'normalised';
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  req.resume();
  if (u.pathname.includes('/assets/')) {
    res.writeHead(200, { 'content-type': 'text/javascript', 'content-length': ASSET.length, etag: '"a1"', 'cache-control': 'public, max-age=31536000, immutable' });
    res.end(ASSET);
  } else {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': STATS.length });
    res.end(STATS);
  }
});
origin.keepAliveTimeout = 60_000;
await new Promise((r) => origin.listen(0, '127.0.0.1', r));
const originUrl = `http://127.0.0.1:${origin.address().port}`;
const issuer = await startIssuer();
const secret = randomBytes(32).toString('base64url');

const stops = [];
let stopping = false;
async function startHost(reuse) {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'verge-bench-cache-'));
  const args = ['up', '-f', path.join(ROOT, 'scripts/bench-cache.spin.toml'), '--listen', '127.0.0.1:0', '--state-dir', state];
  if (!reuse) args.push('--max-instance-reuse-count', '1');
  const vars = { origin_url: originUrl, origin_secret: secret, jwks_url: issuer.url, jwks_origin: new URL(issuer.url).origin };
  const env = { ...process.env };
  for (const [k, v] of Object.entries(vars)) env[`SPIN_VARIABLE_${k.toUpperCase()}`] = v;
  const proc = spawn(path.join(ROOT, 'target/host/verge-spin'), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = fs.createWriteStream(path.join(state, '..', `${path.basename(state)}.log`));
  proc.stderr.pipe(log);
  proc.once('exit', (code, sig) => { if (!stopping) console.error(`verge-spin (${reuse ? 'reuse' : 'fresh'}) exited: ${code ?? sig}; its stderr: ${log.path}`); });
  const url = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (l) => {
      const m = l.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) resolve(m[0]);
    });
    proc.once('exit', (code) => reject(new Error(`verge-spin exited with ${code}`)));
  });
  stops.push(() => {
    proc.kill('SIGTERM');
    fs.rmSync(state, { recursive: true, force: true });
  });
  return url;
}

const workerOpts = (dir, script, bindings) => ({
  modules: true, scriptPath: path.join(dir, script), modulesRoot: dir,
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }], compatibilityDate: '2025-09-01', bindings, host: '127.0.0.1', port: 0,
  handleRuntimeStdio: (stdout, stderr) => {
    stdout.resume();
    stderr.resume();
  },
});
const bindings = {
  VERGE_ORIGIN_URL: originUrl, VERGE_S3_ENDPOINT: originUrl, VERGE_WEB_ACCESS_KEY_ID: 'AKIDBENCHWEB', VERGE_WEB_SECRET_ACCESS_KEY: secret,
  VERGE_ORIGIN_ACCESS_KEY_ID: 'AKIDBENCHEDGE', VERGE_ORIGIN_SECRET_ACCESS_KEY: secret, VERGE_JWKS_URL: issuer.url,
};
// The workerd processes running under this one, by pid (Linux /proc), to find each Miniflare's.
const workerdPids = () => new Set(fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
  try {
    return fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'workerd' && fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(process.pid);
  } catch {
    return false;
  }
}));
// CPU seconds a process has used (user + system), from /proc/PID/stat (clock ticks of 10 ms).
const cpuSeconds = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const workerdOf = new Map(); // base URL -> workerd pid
async function startMiniflare(opts) {
  const before = workerdPids();
  const mf = new Miniflare(opts);
  stops.push(() => mf.dispose());
  const url = (await mf.ready).toString().replace(/\/$/, '');
  const pid = [...workerdPids()].find((p) => !before.has(p));
  if (pid) workerdOf.set(url, pid);
  return url;
}

// ---- wrk, run asynchronously: the origin and the issuer live in this process ----
const UNITS = { us: 0.001, ms: 1, s: 1000 };
async function wrk(url, headers = {}, seconds = DURATION) {
  // workerd's CPU time per request: what the worker costs, whatever else the machine runs.
  const pid = [...workerdOf].find(([base]) => url.startsWith(base))?.[1];
  const cpu0 = pid ? cpuSeconds(pid) : NaN;
  const args = ['-t2', '-c2', `-d${seconds}s`, '--latency'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  const { stdout: out } = await promisify(execFile)('wrk', [...args, url]);
  const ms = (label) => {
    const m = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? Number(m[1]) * UNITS[m[2]] : NaN;
  };
  const non2xx = Number((/Non-2xx or 3xx responses:\s+(\d+)/.exec(out) ?? [0, 0])[1]);
  const errors = Number((/Socket errors:.*/.exec(out) ?? [''])[0].match(/\d+/g)?.reduce((a, b) => a + Number(b), 0) ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const cpuMs = pid && requests ? ((cpuSeconds(pid) - cpu0) * 1000) / requests : NaN;
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), p50: ms('50%'), p99: ms('99%'), bad: non2xx + errors, cpuMs };
}

async function get(url, headers = {}) {
  const res = await fetch(url, { headers });
  const body = await res.text();
  if (res.status >= 500) res.body500 = body.slice(0, 200);
  return res;
}

// ---- the realistic mix ----
function lcg(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
function mix(n = 1000, users = 8) {
  const rnd = lcg(20261130);
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  // Ranges by popularity (a dashboard's presets first): this month, last 7 days, last 30, ...
  const ranges = [['2025-11-01', '2025-11-30'], ['2025-11-24', '2025-11-30'], ['2025-10-31', '2025-11-30'], ['2025-10-01', '2025-10-31'],
    ['2025-01-01', '2025-11-30'], ['2025-11-29', '2025-11-29'], ['2025-09-01', '2025-09-30'], ['2025-06-01', '2025-06-30']];
  const weights = [30, 20, 15, 10, 8, 7, 5, 5];
  const range = () => {
    let x = rnd() * 100;
    for (let i = 0; i < ranges.length; i += 1) if ((x -= weights[i]) < 0) return ranges[i];
    return ranges[0];
  };
  const campaigns = [['newsletter', 'email', 'nov-digest'], ['twitter', 'social', 'launch'], ['google', 'cpc', 'brand'], ['partner', 'referral', 'q4']];
  const langs = ['en-GB,en;q=0.9', 'de-DE,de;q=0.8,en;q=0.5', 'fr-FR', 'en-US,en;q=0.9'];
  const encs = ['gzip, deflate, br', 'gzip, deflate, br, zstd', 'br;q=1.0, gzip;q=0.8, *;q=0.1', 'gzip'];
  const out = [];
  for (let i = 0; i < n; i += 1) {
    const user = i % users;
    const [from, to] = range();
    const enc = (s) => (rnd() < 0.1 ? s.replace(/-/g, '%2D') : s);
    const params = [`from=${enc(from)}`, `to=${enc(to)}`];
    const arrival = rnd();
    if (arrival < 0.35) {
      const [src, med, camp] = pick(campaigns);
      params.push(`utm_source=${src}`, `utm_medium=${med}`, `utm_campaign=${camp}`);
      if (src === 'twitter' || src === 'google') params.push(`${src === 'google' ? 'gclid' : 'fbclid'}=${randomBytes(8).toString('hex')}`);
    } else if (arrival < 0.45) params.push(`_ga=2.${user}.${Math.floor(rnd() * 1e6)}`);
    if (rnd() < 0.03) params.push(`after=${1000 + i}`); // a user's own write: a new key on purpose
    for (let j = params.length - 1; j > 0; j -= 1) {
      const k = Math.floor(rnd() * (j + 1));
      [params[j], params[k]] = [params[k], params[j]];
    }
    out.push({
      user, query: params.join('&'),
      headers: { 'accept-language': langs[user % langs.length], 'accept-encoding': encs[(user + i) % encs.length], 'user-agent': `bench-user-${user}`, cookie: `_ga=GA1.2.${user}; theme=${user % 2 ? 'dark' : 'light'}` },
    });
  }
  return out;
}
async function replay(base, route, requests, users = 8) {
  counts.clear();
  const byUser = Array.from({ length: users }, (_, u) => requests.filter((r) => r.user === u));
  const bad = [];
  await Promise.all(byUser.map(async (rs) => {
    for (const r of rs) {
      const res = await get(`${base}${route}?${r.query}`, r.headers);
      if (res.status !== 200) bad.push(`${res.status} ${res.headers.get('cache-status')} ${res.body500 ?? ''} ?${r.query}`);
    }
  }));
  if (bad.length) console.error(`${base}${route}: ${bad.length} non-200 answers in the replay, e.g. ${bad.slice(0, 3).join(', ')}`);
  await new Promise((r) => setTimeout(r, 200));
  return (counts.get(route.startsWith('/raw/') ? 'raw' : 'normalised') ?? 0) * (1000 / requests.length);
}

function table(results) {
  const med = {};
  console.log(`## Through each edge (wrk -t2 -c2 -d${DURATION}s --latency, median of ${ROUNDS} interleaved rounds, after ${WARM} s of warm-up each)\n`);
  console.log('| case | req/s | p50 ms | p99 ms | non-2xx/errors | workerd CPU ms/request |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, rs] of Object.entries(results)) {
    const m = (med[name] = Object.fromEntries(['rps', 'p50', 'p99', 'bad', 'cpuMs'].map((k) => [k, median(rs.map((x) => x[k]))])));
    console.log(`| ${name} | ${m.rps.toFixed(0)} | ${m.p50.toFixed(3)} | ${m.p99.toFixed(3)} | ${m.bad} | ${Number.isNaN(m.cpuMs) ? '' : m.cpuMs.toFixed(3)} |`);
  }
  const x = (a, b) => (med[a] && med[b] ? (med[a].rps / med[b].rps).toFixed(2) : 'n/a');
  console.log(`\nCached / uncached req/s: Spin asset ${x('Spin: asset, cached', 'Spin: asset, uncached')}x, API ${x('Spin: API, cached', 'Spin: API, uncached')}x; ` +
    `Workers asset ${x('Workers: asset, cached', 'Workers: asset, uncached')}x, API ${x('Workers: API, cached', 'Workers: API, uncached')}x.`);
  console.log(`Verge / JS worker forwarding without a token (API, uncached): ${x('Workers: API, uncached', 'Workers: API, uncached, JS worker (Hono + aws4fetch)')}; ` +
    `with Verge's access log off (neither logs): ${x('Workers: API, uncached, Verge, access log off', 'Workers: API, uncached, JS worker (Hono + aws4fetch)')}.`);
  const cpu = (a, b) => (med[a] && med[b] ? (med[b].cpuMs / med[a].cpuMs).toFixed(2) : 'n/a');
  console.log(`JS worker / Verge workerd CPU time per request on the JWT route: ${cpu('Workers: JWT route, uncached, Verge', 'Workers: JWT route, JS worker (Hono + jose + aws4fetch)')} (above 1: Verge uses less).`);
  console.log(`Verge / JS worker writing the same access log line, on the JWT route: ${x('Workers: JWT route, uncached, Verge', 'Workers: JWT route, JS worker + access log line')}.`);
  console.log(`Verge with its access log off / JS worker writing none, on the JWT route: ${x('Workers: JWT route, Verge, access log off', 'Workers: JWT route, JS worker (Hono + jose + aws4fetch)')}; ` +
    `CPU, JS / Verge: ${cpu('Workers: JWT route, Verge, access log off', 'Workers: JWT route, JS worker (Hono + jose + aws4fetch)')}.`);
  console.log(`Verge / JS worker on the JWT route: ${x('Workers: JWT route, uncached, Verge', 'Workers: JWT route, JS worker (Hono + jose + aws4fetch)')} (target >= 1.0 now, 1.5 goal).`);
}

// The JWT route's workers side by side at the finest grain: one client with a kept-alive
// connection to each sends a request to one, then the same to the next, rotating which goes
// first, so all meet the same machine at the same moment (this machine is shared and noisy; wrk
// rounds seconds apart do not). Prints each one's median and p90 latency and the ratios to the
// first (Verge).
async function paired(named, n = Number(process.env.BENCH_PAIRS ?? 3000)) {
  const entries = Object.entries(named).filter(([, c]) => c);
  if (entries.length < 2) return;
  const agents = entries.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const once = ([url, headers], agent) => new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    http.get(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`${url}: ${res.statusCode}`))));
    }).on('error', reject);
  });
  const lat = entries.map(() => []);
  const pids = entries.map(([, [url]]) => [...workerdOf].find(([b]) => url.startsWith(b))?.[1]);
  const cpu0 = pids.map((p) => (p ? cpuSeconds(p) : NaN));
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < entries.length; j += 1) {
      const k = (i + j) % entries.length;
      lat[k].push(await once(entries[k][1], agents[k]));
    }
  }
  const cpu = pids.map((p, k) => (p ? ((cpuSeconds(p) - cpu0[k]) * 1000) / n : NaN));
  for (const a of agents) a.destroy();
  const q = (xs, p) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * p)];
  console.log(`\n## JWT route, ${n} rounds of sequential requests, one to each worker in rotating order (one kept-alive connection each)\n`);
  console.log('| worker | p50 ms | p90 ms | its p50 / Verge p50 | workerd CPU ms/request | its CPU / Verge CPU |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const base = q(lat[0], 0.5);
  entries.forEach(([name], k) => console.log(`| ${name} | ${q(lat[k], 0.5).toFixed(3)} | ${q(lat[k], 0.9).toFixed(3)} | ${(q(lat[k], 0.5) / base).toFixed(2)} | ` +
    `${cpu[k].toFixed(3)} | ${(cpu[k] / cpu[0]).toFixed(2)} |`));
}

// What a bigger bundle costs: the first request on a fresh isolate (workerd started, the module
// compiled and instantiated, then one JWT-route request) against the next one, median of
// BENCH_COLD (5) fresh Miniflares each, interleaved (one of each per round).
async function coldStarts(named, n = Number(process.env.BENCH_COLD ?? 5)) {
  const token = issuer.mint({ kid: 'ec1' });
  const times = Object.fromEntries(Object.keys(named).map((k) => [k, { first: [], next: [] }]));
  for (let i = 0; i < n; i += 1) {
    for (const [name, [dir, script]] of Object.entries(named)) {
      const mf = new Miniflare(workerOpts(dir, script, bindings));
      const url = (await mf.ready).toString().replace(/\/$/, '');
      for (const which of ['first', 'next']) {
        const t0 = performance.now();
        const res = await get(`${url}/jwt/x?q=1`, { authorization: `Bearer ${token}` });
        if (res.status !== 200) throw new Error(`${name}: cold start answered ${res.status}`);
        times[name][which].push(performance.now() - t0);
      }
      await mf.dispose();
    }
  }
  console.log(`\n## First request on a fresh isolate (JWT route, JWKS fetched then; median of ${n})\n`);
  console.log('| worker | first request ms | the next ms |');
  console.log('|---|---:|---:|');
  for (const [name, t] of Object.entries(times)) console.log(`| ${name} | ${median(t.first).toFixed(1)} | ${median(t.next).toFixed(1)} |`);
}

async function main() {
  const spin = await startHost(true);
  const spinFresh = await startHost(false);
  const workers = await startMiniflare(workerOpts(path.join(BENCH, 'bundle'), 'index.js', bindings));
  const jsworker = await startMiniflare(workerOpts(BENCH, 'jsworker.js', bindings));
  const jsworkerLog = await startMiniflare(workerOpts(BENCH, 'jsworker.js', { ...bindings, JS_ACCESS_LOG: '1' }));

  const api = '/stats/daily?from=2026-11-01&to=2026-11-30';
  const asset = '/assets/app-1a2b3c4d.js';
  const token = issuer.mint({ kid: 'ec1' });
  const jwt = { authorization: `Bearer ${token}` };
  const cases = {
    'origin alone: asset': [`${originUrl}/verge-web${asset}`],
    'origin alone: API': [`${originUrl}/api${api}`],
    'Spin: pass-through floor (API)': [`${spin}/pass/api${api}`],
    'Spin: asset, cached': [`${spin}${asset}`],
    'Spin: asset, uncached': [`${spin}/nocache${asset}`],
    'Spin: API, cached': [`${spin}/api${api}`],
    'Spin: API, uncached': [`${spin}/nocache${api}`],
    'Spin, fresh instance per request: asset, cached': [`${spinFresh}${asset}`],
    'Spin, fresh instance per request: API, cached': [`${spinFresh}/api${api}`],
    'Workers: asset, cached': [`${workers}${asset}`],
    'Workers: asset, uncached': [`${workers}/nocache${asset}`],
    'Workers: API, cached': [`${workers}/api${api}`],
    'Workers: API, uncached': [`${workers}/nocache${api}`],
    'Workers: API, uncached, JS worker (Hono + aws4fetch)': [`${jsworker}/nocache${api}`],
    'Workers: JWT route, uncached, Verge': [`${workers}/jwt/x?q=1`, jwt],
    'Workers: JWT route, JS worker (Hono + jose + aws4fetch)': [`${jsworker}/jwt/x?q=1`, jwt],
    'Workers: JWT route, JS worker + access log line': [`${jsworkerLog}/jwt/x?q=1`, jwt],
  };
  // The same Verge with `access_log_sample_percent = 0` (bench-cache.sh builds it), to compare with
  // the JS worker that writes no line: the same work both ways.
  const nolog = path.join(BENCH, 'bundle-nolog');
  if (fs.existsSync(path.join(nolog, 'index.js'))) {
    const url = await startMiniflare(workerOpts(nolog, 'index.js', bindings));
    cases['Workers: API, uncached, Verge, access log off'] = [`${url}/nocache${api}`];
    cases['Workers: JWT route, Verge, access log off'] = [`${url}/jwt/x?q=1`, jwt];
  }
  // BENCH_VARIANTS=DIR[,DIR...]: other Workers builds of the bench config (scripts/build-workers.sh
  // DIR, e.g. from another commit or profile) on the JWT route beside Verge, in the paired run and
  // the cold-start table too.
  for (const dir of variants) {
    const url = await startMiniflare(workerOpts(dir, 'index.js', bindings));
    cases[`Workers: JWT route, Verge variant ${path.basename(dir)}`] = [`${url}/jwt/x?q=1`, jwt];
  }
  // BENCH_ONLY=REGEX keeps the cases whose name matches (e.g. BENCH_ONLY=JWT for the JS comparison).
  if (process.env.BENCH_ONLY) for (const name of Object.keys(cases)) if (!new RegExp(process.env.BENCH_ONLY).test(name)) delete cases[name];
  // Each URL answers 200 and the cached ones say HIT once warm; then a warm-up run each (WARM).
  for (const [name, [url, h]] of Object.entries(cases)) {
    await get(url, h);
    const res = await get(url, h);
    const status = res.headers.get('cache-status') ?? '';
    if (res.status !== 200) throw new Error(`${name}: ${res.status}`);
    if (name.includes(' cached') && !/hit/.test(status)) console.error(`warning: ${name}: Cache-Status ${status}`);
    await wrk(url, h ?? {}, WARM);
  }
  const results = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  // Each round starts at the next case, so that no case is always measured first (or always right
  // after the same neighbour) on a machine whose load drifts.
  const order = Object.entries(cases);
  for (let r = 0; r < (process.env.BENCH_MIX_ONLY ? 0 : ROUNDS); r += 1) {
    for (const [name, [url, h]] of [...order.slice(r % order.length), ...order.slice(0, r % order.length)]) {
      results[name].push(await wrk(url, h ?? {}));
      console.error(`round ${r + 1}: ${name}: ${JSON.stringify(results[name].at(-1))}`);
    }
  }
  if (!process.env.BENCH_MIX_ONLY) table(results);
  if (!process.env.BENCH_MIX_ONLY) {
    await paired(Object.fromEntries(Object.keys(cases).filter((k) => k.startsWith('Workers: JWT route')).map((k) => [k.replace('Workers: JWT route, ', ''), cases[k]])));
    await coldStarts({
      Verge: [path.join(BENCH, 'bundle'), 'index.js'], 'JS worker': [BENCH, 'jsworker.js'],
      ...Object.fromEntries(variants.map((dir) => [`Verge variant ${path.basename(dir)}`, [dir, 'index.js']])),
    });
  }
  if (process.env.BENCH_ONLY) return;

  const requests = mix();
  const ideal = (norm) => new Set(requests.map((r) => {
    const p = new URLSearchParams(decodeURIComponent(r.query));
    const kept = [...p].filter(([k]) => !norm || !/^(utm_.*|fbclid|gclid|msclkid|_ga)$/.test(k)).map(([k, v]) => `${k}=${v}`).sort();
    return kept.join('&');
  })).size;
  console.log(`\n## Origin requests per 1,000 client requests, realistic mix (${requests.length} requests, 8 users at once; ` +
    `distinct keys: ${ideal(true)} normalised, ${ideal(false)} with every parameter (sorted, decoded), ` +
    `${new Set(requests.map((r) => r.query)).size} as raw query strings, which no policy here keys on)\n`);
  console.log('| edge | normalised key (shipped daily_stats) | query = "all" |');
  console.log('|---|---:|---:|');
  for (const [name, base] of [['Spin (host, instance reuse)', spin], ['Spin (host, fresh instance per request)', spinFresh], ['Workers (miniflare)', workers]]) {
    const norm = await replay(base, '/api/stats/daily', requests);
    const raw = await replay(base, '/raw/stats/daily', requests);
    console.log(`| ${name} | ${norm.toFixed(0)} | ${raw.toFixed(0)} |`);
  }
}

try {
  await main();
} finally {
  stopping = true;
  for (const s of stops) await s();
  await issuer.close();
  origin.close();
}
process.exit(0);
