// Rate-limit benchmarks (run by scripts/bench-ratelimit.sh; prints figures, asserts nothing).
//
// 1. Added latency per request: p50 and p99 of sequential requests on one keep-alive connection
//    to routes that differ only in their limit (none, scope "instance", scope "global"), in
//    interleaved rounds, medians over the rounds; on Spin (target/host/verge-spin, Redis) and on
//    workerd (miniflare, a Durable Object per key). Every route reaches the same trivial origin.
// 2. Accuracy: BENCH_BURST requests from BENCH_CLIENTS concurrent clients, split over two edge
//    instances (two Spin host processes on one Redis; two Workers isolates on one Durable Object
//    namespace), against a limit of 100 at once then one a day: admitted over the limit, per scope.
//
// Environment: BENCH_N (requests per case per round, 500), BENCH_ROUNDS (3), BENCH_CLIENTS (64),
// BENCH_BURST (400).
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { edgeIsolates } from '../tests/blackbox/stack.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { Miniflare } = createRequire(path.join(ROOT, 'tests/package.json'))('miniflare');
const N = Number(process.env.BENCH_N ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 64);
const BURST = Number(process.env.BENCH_BURST ?? 400);
const LIMIT = 100; // scripts/bench-ratelimit.toml: acc-instance and acc-global

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))];
};

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const listening = (port) =>
  new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => s.end(() => resolve(true)));
    s.once('error', () => resolve(false));
  });

function get(base, p, { agent, headers = {} } = {}) {
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

/** p50 and p99 (µs) of N sequential requests on one keep-alive connection. */
async function series(base, route) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const us = [];
  for (let i = 0; i < N; i += 1) {
    const r = await get(base, `${route}/x`, { agent });
    if (r.status !== 200) throw new Error(`${base}${route}: ${r.status}`);
    us.push(r.us);
  }
  agent.destroy();
  const kept = us.slice(Math.floor(N / 10)); // warm-up dropped
  return { p50: pct(kept, 50), p99: pct(kept, 99) };
}

/** BURST requests from CLIENTS concurrent clients, alternating over `senders`: admitted count. */
async function burst(senders, route) {
  const run = randomUUID();
  let next = 0;
  let admitted = 0;
  const other = new Map();
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      while (next < BURST) {
        next += 1;
        const status = await senders[c % senders.length](`${route}/x`, { 'x-bench-run': run });
        if (status === 200) admitted += 1;
        else if (status !== 429) other.set(status, (other.get(status) ?? 0) + 1);
      }
    }),
  );
  return { admitted, other: [...other].map(([s, n]) => `${n}x${s}`).join(' '), seconds: (Date.now() - t0) / 1000 };
}

async function main() {
  const body = Buffer.from('{"ok":true}');
  const origin = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body));
  });
  origin.keepAliveTimeout = 60_000;
  await new Promise((r) => origin.listen(0, '127.0.0.1', r));
  const originUrl = `http://127.0.0.1:${origin.address().port}`;
  const secret = randomBytes(32).toString('base64url');
  const procs = [];

  const redisPort = await freePort();
  procs.push(spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
  while (!(await listening(redisPort))) await sleep(50);

  // Two Spin host processes on the same Redis.
  const spinBases = [];
  for (let i = 0; i < 2; i += 1) {
    const port = await freePort();
    const p = spawn(path.join(ROOT, 'target/host/verge-spin'), ['up', '-f', path.join(ROOT, 'scripts/bench-ratelimit.spin.toml'), '--listen', `127.0.0.1:${port}`,
      '--variable', `origin=${originUrl}`, '--variable', `redis=redis://127.0.0.1:${redisPort}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, SPIN_VARIABLE_SECRET: secret },
    });
    procs.push(p);
    spinBases.push(`http://127.0.0.1:${port}`);
  }
  for (const base of spinBases) {
    for (let i = 0; i < 200; i += 1) {
      try {
        if ((await get(base, '/none/x')).status === 200) break;
      } catch {
        await sleep(50);
      }
    }
  }

  // Two Workers isolates sharing one Durable Object namespace.
  const build = path.join(ROOT, 'target/bench/workers-ratelimit');
  const bindings = { VERGE_ORIGIN_URL: originUrl, VERGE_ORIGIN_ACCESS_KEY_ID: 'AKIDBENCHEDGE', VERGE_ORIGIN_SECRET_ACCESS_KEY: secret };
  const mf = new Miniflare({
    workers: edgeIsolates(build, bindings),
    host: '127.0.0.1',
    port: 0,
    // The edge's access log is one console line per request: not part of the figures.
    handleRuntimeStdio: (stdout, stderr) => {
      stdout.resume();
      stderr.resume();
    },
  });
  const workersBase = (await mf.ready).toString().replace(/\/$/, '');
  const edge2 = await mf.getWorker('edge2');

  const cases = ['none', 'instance', 'global'];
  const runtimes = { spin: spinBases[0], workerd: workersBase };
  const res = {};
  for (const [rt, base] of Object.entries(runtimes)) {
    for (const c of cases) {
      await series(base, `/${c}`); // warm-up: instances, connections, the object or the script
      res[`${rt}/${c}`] = [];
    }
  }
  for (let r = 0; r < ROUNDS; r += 1) {
    for (const [rt, base] of Object.entries(runtimes)) {
      for (const c of cases) res[`${rt}/${c}`].push(await series(base, `/${c}`));
    }
    console.error(`round ${r + 1}/${ROUNDS} done`);
  }
  const ms = (us) => (us / 1000).toFixed(3);
  console.log(`## Added latency of a rate limit (sequential requests on one keep-alive connection; p50/p99 of ${N} per case per round, medians of ${ROUNDS} interleaved rounds)\n`);
  console.log('| runtime | no limit p50 / p99 ms | instance p50 / p99 ms | global p50 / p99 ms | added by instance p50 / p99 ms | added by global p50 / p99 ms |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const rt of Object.keys(runtimes)) {
    const m = Object.fromEntries(cases.map((c) => [c, { p50: median(res[`${rt}/${c}`].map((x) => x.p50)), p99: median(res[`${rt}/${c}`].map((x) => x.p99)) }]));
    const cell = (x) => `${ms(x.p50)} / ${ms(x.p99)}`;
    const added = (c) => `${ms(m[c].p50 - m.none.p50)} / ${ms(m[c].p99 - m.none.p99)}`;
    const store = rt === 'spin' ? 'Redis' : 'Durable Object';
    console.log(`| ${rt} (global: ${store}) | ${cell(m.none)} | ${cell(m.instance)} | ${cell(m.global)} | ${added('instance')} | ${added('global')} |`);
  }

  // Accuracy, each client on its own connection.
  const spinSenders = spinBases.map((base) => async (p, headers) => (await get(base, p, { headers, agent: false })).status);
  const workerSenders = [
    async (p, headers) => (await get(workersBase, p, { headers, agent: false })).status,
    async (p, headers) => {
      const r = await edge2.fetch(`http://edge2.bench${p}`, { headers });
      await r.arrayBuffer();
      return r.status;
    },
  ];
  console.log(`\n## Accuracy: ${BURST} requests from ${CLIENTS} concurrent clients over two instances, limit ${LIMIT} at once then 1 a day\n`);
  console.log('| runtime | scope | admitted | over the limit | other answers | seconds |');
  console.log('|---|---|---:|---:|---|---:|');
  for (const [rt, senders] of [['spin', spinSenders], ['workerd', workerSenders]]) {
    for (const scope of ['instance', 'global']) {
      const b = await burst(senders, `/acc-${scope}`);
      console.log(`| ${rt} | ${scope} | ${b.admitted} | ${b.admitted - LIMIT} (${(((b.admitted - LIMIT) / LIMIT) * 100).toFixed(1)}%) | ${b.other || '-'} | ${b.seconds.toFixed(2)} |`);
    }
  }
  console.log('\nInstance scope: each isolate or Spin instance counts alone (a Spin host runs several instances under concurrency).');

  await mf.dispose();
  for (const p of procs) p.kill('SIGTERM');
  origin.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
