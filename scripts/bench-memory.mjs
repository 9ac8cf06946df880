// Edge memory under large bodies, on both runtimes (scripts/bench-memory.sh). Prints figures;
// asserts nothing.
//
// The stack is the black-box tests' (tests/blackbox/stack.mjs): spin.toml under the project's
// Spin host, the Workers build on workerd through miniflare, moto behind both. Each phase:
//   small      20 GETs of index.html (the baseline)
//   POST CL    a 100 MB POST to the open /api/numbers, Content-Length declared
//   POST chunk a 100 MB chunked POST to the same route (no length: the edge must cut it off)
//   GET        a 100 MB object from the bucket through the edge (larger than the cache keeps)
// Spin: the edge instance's peak linear memory, from the host's --instance-memory-log (each
// phase waits for its instance to be dropped, so every figure is one instance's peak; the host's
// own request-body limit is raised to 200 MB so the 100 MB POST reaches the edge).
// Workers: the workerd process's resident memory (VmRSS) after the phase and its peak (VmHWM);
// workerd runs both edge isolates, so this is an upper bound on one isolate's.
import fs from 'node:fs';
import http from 'node:http';
import { randomBytes } from 'node:crypto';

process.env.VERGE_HOST_MAX_REQUEST_BODY_BYTES = String(200 * 1024 * 1024);
const { startStack, instanceMemory, s3Put } = await import('../tests/blackbox/stack.mjs');

const MB = 1024 * 1024;
const SIZE = 100 * MB;
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One request; the response body is counted and dropped. `body`: a Buffer, or 'chunked'. */
function request(url, method, body) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers = { 'content-type': 'application/json' };
    if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
    if (body === 'chunked') headers['transfer-encoding'] = 'chunked';
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, headers, agent: false }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; });
      res.on('end', () => { resolve({ status: res.statusCode, bytes: n }); req.destroy(); });
    });
    // The edge may answer 413 and close before the body is sent: that is the point.
    req.on('error', (e) => (req.destroyed ? undefined : resolve({ status: `error ${e.code}`, bytes: 0 })));
    if (Buffer.isBuffer(body)) {
      req.end(body);
    } else if (body === 'chunked') {
      const chunk = Buffer.alloc(MB, 0x61);
      let sent = 0;
      const write = () => {
        while (sent < SIZE) {
          sent += chunk.length;
          if (!req.write(chunk)) return req.once('drain', write);
        }
        req.end();
      };
      req.on('response', () => { sent = SIZE; });
      write();
    } else {
      req.end();
    }
  });
}

/** workerd's pid: miniflare's child process. */
function workerdPid() {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (ppid === process.pid && cmd.includes('workerd')) return Number(d);
    } catch { /* gone */ }
  }
  throw new Error('no workerd child process');
}

function procMem(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)[1]);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

const env = await startStack();
try {
  const big = randomBytes(SIZE);
  await s3Put(env.stack, 'bench/big-100mb.bin', big, { 'content-type': 'application/octet-stream' });
  const phases = [
    ['small', async (edge) => { for (let i = 0; i < 20; i += 1) await request(`${edge}/index.html`, 'GET'); return request(`${edge}/index.html`, 'GET'); }],
    ['POST CL', (edge) => request(`${edge}/api/numbers`, 'POST', big)],
    ['POST chunk', (edge) => request(`${edge}/api/numbers`, 'POST', 'chunked')],
    ['GET', (edge) => request(`${edge}/bench/big-100mb.bin`, 'GET')],
  ];
  const spin = Object.fromEntries(phases.map(([p]) => [p, []]));
  const workers = Object.fromEntries(phases.map(([p]) => [p, []]));
  const answers = {};
  const pid = workerdPid();
  const workersStart = procMem(pid);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [phase, run] of phases) {
      // Spin: let the previous instance go (idle 1 s), run the phase, wait for its instance's line.
      await sleep(1500);
      const seen = instanceMemory(env.logDir).length;
      const a = await run(env.edges.spin);
      answers[`spin ${phase}`] = `${a.status}, ${a.bytes} bytes`;
      let lines = [];
      for (let i = 0; i < 100 && lines.length === 0; i += 1) {
        await sleep(100);
        lines = instanceMemory(env.logDir).slice(seen).filter((m) => m.component === 'edge');
      }
      spin[phase].push(Math.max(...lines.map((m) => m.peak_linear_memory_bytes)));
      const w = await run(env.edges.workers);
      answers[`workers ${phase}`] = `${w.status}, ${w.bytes} bytes`;
      await sleep(500);
      workers[phase].push(procMem(pid));
    }
  }
  const mb = (n) => `${(n / MB).toFixed(1)} MB`;
  console.log(`\nEdge memory, ${ROUNDS} rounds (medians); bodies of ${SIZE / MB} MB`);
  console.log(`${'phase'.padEnd(12)} ${'Spin: edge instance peak linear memory'.padEnd(40)} workerd RSS after / peak (start: ${mb(workersStart.rss)} / ${mb(workersStart.hwm)})`);
  for (const [phase] of phases) {
    const w = workers[phase];
    console.log(`${phase.padEnd(12)} ${mb(median(spin[phase])).padEnd(40)} ${mb(median(w.map((x) => x.rss)))} / ${mb(median(w.map((x) => x.hwm)))}`);
  }
  console.log('\nAnswers (last round):');
  for (const [k, v] of Object.entries(answers)) console.log(`  ${k.padEnd(20)} ${v}`);
} finally {
  await env.stop();
}
