// Starts the real stack for black-box tests: moto (checking signatures), spin.toml (the edge, with
// the origin as its private component) and origin.spin.toml (the origin alone) under the project's
// Spin host (scripts/devstack.py), and the Workers build of the edge on workerd through miniflare,
// pointed at the same origin and bucket.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Miniflare } from 'miniflare';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { startIssuer } from './issuer.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The project's Python (scripts/setup.sh makes .venv with moto in it); python3 where there is none. */
export const PYTHON = fs.existsSync(path.join(ROOT, '.venv/bin/python')) ? path.join(ROOT, '.venv/bin/python') : 'python3';

/**
 * Starts everything; returns { stack, edges: { spin, workers }, workers2, issuer, stop, accessLog, originLog, logDir }.
 * `secondEdge`: a second Spin host on the same Redis (`stack.edge2`), for limits shared by instances.
 */
export async function startStack({ secondEdge = false } = {}) {
  const issuer = await startIssuer();
  // A short breaker cooldown so the tests can watch it open and close.
  // Storage goes through the fault proxy, with a short timeout so stalls are quick to test.
  const originEnv = ['VERGE_BANK_BREAKER_FAILURES=3', 'VERGE_BANK_BREAKER_COOLDOWN_MS=1500', 'VERGE_BANK_TIMEOUT_MS=1000', 'VERGE_DDB_TIMEOUT_MS=800'];
  const args = [
    path.join(ROOT, 'scripts/devstack.py'), 'up', '--fault-proxy',
    ...originEnv.flatMap((kv) => ['--origin-env', kv]),
    '--edge-env', `VERGE_JWKS_URL=${issuer.url}`,
    ...(secondEdge ? ['--second-edge'] : []),
  ];
  // Access tokens that are always within a minute of expiring: every session request renews.
  // Every service's output goes to a file there; the Spin edge's is its access log.
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'verge-logs-'));
  const proc = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, VERGE_IDP_ACCESS_TOKEN_TTL: '62', VERGE_LOG_DIR: logDir } });
  const line = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`devstack exited with ${code}`)));
  });
  const stack = JSON.parse(line);
  const workersLog = [];
  const build = path.join(ROOT, 'edge/workers/build');
  const mf = new Miniflare({
    workers: edgeIsolates(build, stack.edge_env_for_workers),
    host: '127.0.0.1',
    port: 0,
    handleRuntimeStdio: (stdout, stderr) => {
      createInterface({ input: stdout }).on('line', (l) => workersLog.push(l));
      stderr.pipe(process.stderr);
    },
  });
  const workersUrl = (await mf.ready).toString().replace(/\/$/, '');
  /** The second isolate, as a fetcher (`await workers2.fetch(url, init)`). */
  const workers2 = await mf.getWorker('edge2');
  const stop = async () => {
    await issuer.close();
    await mf.dispose();
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  };
  const logLines = {
    // The Spin host writes each component's stdout to <log dir>/<component>_stdout.txt, as `spin up --log-dir` does.
    spin: () => fs.readFileSync(path.join(logDir, 'app', 'edge_stdout.txt'), 'utf8').split('\n'),
    spin2: () => fs.readFileSync(path.join(logDir, 'app2', 'edge_stdout.txt'), 'utf8').split('\n'),
    workers: () => workersLog,
  };
  /** The edge's access log line for `requestId` (waits for it to be written). */
  const accessLog = (runtime, requestId) => findLog(logLines[runtime], requestId);
  /**
   * The origin's log lines that contain `text`, for the origin behind `runtime`'s edge: the Spin
   * edge's private component, or the origin alone (origin.spin.toml) that the Workers edge calls.
   */
  const originLog = (runtime, text) => {
    const file = runtime === 'spin' ? path.join(logDir, 'app', 'origin_stdout.txt') : path.join(logDir, 'origin', 'origin_stdout.txt');
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : [];
    return lines.filter((l) => l.includes(text)).map((l) => JSON.parse(l.slice(l.indexOf('{'))));
  };
  return { stack, edges: { spin: stack.edge, workers: workersUrl }, workers2, issuer, stop, accessLog, originLog, logDir };
}

/**
 * One raw HTTP request: the path goes on the wire exactly as given (no client-side URL
 * normalisation), so traversal attempts reach the server as an attacker would send them.
 */
export function raw(base, method, rawPath, { headers = {}, body } = {}) {
  const u = new URL(base);
  const allHeaders = body === undefined ? headers : { 'content-length': Buffer.byteLength(body), ...headers };
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: rawPath, headers: allHeaders }, (res) => {
      const chunks = [];
      let firstByteMs;
      res.on('data', (c) => {
        firstByteMs ??= Date.now() - started;
        chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json, firstByteMs, ms: Date.now() - started });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Signs a request to the origin with AWS's own JS SigV4 signer (@smithy/signature-v4). */
export async function signForOrigin(stack, { method, url, headers = {}, body = '', secret, at }) {
  const [accessKeyId, realSecret] = stack.keys.edge_origin;
  const signer = new SignatureV4({
    service: 'execute-api',
    region: stack.region,
    credentials: { accessKeyId, secretAccessKey: secret ?? realSecret },
    sha256: Sha256,
  });
  const u = new URL(url);
  const query = Object.fromEntries(u.searchParams.entries());
  const signed = await signer.sign(
    {
      method,
      protocol: u.protocol,
      hostname: u.hostname,
      port: Number(u.port),
      path: u.pathname,
      query,
      headers: { host: u.host, 'x-amz-content-sha256': await sha256Hex(body), ...headers },
      body,
    },
    { signingDate: at ?? new Date() },
  );
  return signed.headers;
}

/** Sends a request straight to the origin, signed with the edge's key, as the edge would. */
export async function originCall(stack, method, path, { body = '', headers = {} } = {}) {
  const url = `${stack.origin}${path}`;
  const signed = await signForOrigin(stack, { method, url, body, headers });
  return raw(stack.origin, method, path, { headers: signed, body: body === '' ? undefined : body });
}

/** One DynamoDB JSON-protocol call to moto with the deployer's key, to look at stored items. */
export async function dynamo(stack, op, payload) {
  const [accessKeyId, secretAccessKey] = stack.keys['verge-deployer'];
  const signer = new SignatureV4({ service: 'dynamodb', region: stack.region, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256 });
  const u = new URL(stack.moto);
  const body = JSON.stringify(payload);
  const signed = await signer.sign({
    method: 'POST', protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: '/',
    headers: { host: u.host, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${op}` },
    body,
  });
  const r = await raw(stack.moto, 'POST', '/', { headers: signed.headers, body });
  if (r.status !== 200) throw new Error(`${op}: ${r.status} ${r.text}`);
  return r.json;
}

/**
 * Puts an object into the stack's private bucket on moto with the deployer's key (payload
 * unsigned, so a large body is not hashed in JS first).
 */
export async function s3Put(stack, key, body, headers = {}) {
  const [accessKeyId, secretAccessKey] = stack.keys['verge-deployer'];
  const signer = new SignatureV4({ service: 's3', region: stack.region, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256, uriEscapePath: false });
  const u = new URL(stack.moto);
  const p = `/${stack.bucket}/${key}`;
  const signed = await signer.sign({
    method: 'PUT', protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: p,
    headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(body.length), ...headers },
  });
  const r = await raw(stack.moto, 'PUT', p, { headers: signed.headers, body });
  if (r.status !== 200) throw new Error(`s3 put ${key}: ${r.status} ${r.text}`);
}

/** The Spin host's instance memory log for `name` ("app": the edge with its origin), as records. */
export function instanceMemory(logDir, name = 'app') {
  const file = path.join(logDir, name, 'instance-memory.jsonl');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
}

export async function sha256Hex(body) {
  const h = new Sha256();
  h.update(body);
  return Buffer.from(await h.digest()).toString('hex');
}

/**
 * Miniflare options for one isolate of the Workers edge built in `build`, with `bindings` and
 * `durableObjects` (the one place that says how the edge's bundle is loaded).
 */
export function edgeWorker(name, build, bindings, durableObjects) {
  return {
    name,
    modules: true,
    scriptPath: path.join(build, 'index.js'),
    modulesRoot: build,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2025-09-01',
    bindings,
    durableObjects,
  };
}

/**
 * Two isolates of the same edge script ('edge', 'edge2') sharing one Durable Object namespace for
 * global rate limits, as every isolate of a deployed Worker does (wrangler.toml declares it).
 */
export function edgeIsolates(build, bindings) {
  return [
    edgeWorker('edge', build, bindings, { VERGE_RATE_LIMITER: { className: 'RateLimiter', useSQLite: true } }),
    edgeWorker('edge2', build, bindings, { VERGE_RATE_LIMITER: { className: 'RateLimiter', scriptName: 'edge', useSQLite: true } }),
  ];
}

/**
 * The Workers build as two isolates (edge, edge2) of a miniflare of its own, with `bindings`; its
 * access log lines go to `onLine`. Adds its stop to `stops`; returns { url, second, log }.
 */
export async function startWorkersEdge(bindings, stops) {
  const log = [];
  const mf = new Miniflare({
    workers: edgeIsolates(path.join(ROOT, 'edge/workers/build'), bindings),
    host: '127.0.0.1',
    port: 0,
    handleRuntimeStdio: (stdout, stderr) => {
      createInterface({ input: stdout }).on('line', (l) => log.push(l));
      stderr.resume();
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  const second = await mf.getWorker('edge2');
  stops.push(() => mf.dispose());
  return { url, second, log };
}

/**
 * The Spin edge alone under the project's Spin host, from `manifest` (relative to the repository)
 * with its application `variables`: a fresh instance per request (every cache hit then comes from
 * the key-value store instances share), or with `reuse` one instance for many requests, at once
 * too (the host's defaults). Adds its stop to `stops`; returns { url, state, log }: `state` is its
 * state directory (the key-value store's SQLite file), `log()` reads the edge's access log lines.
 */
export async function startSpinEdge(manifest, variables, stops, { reuse = false } = {}) {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'verge-edge-state-'));
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'verge-edge-logs-'));
  const args = ['up', '-f', path.join(ROOT, manifest), '--listen', '127.0.0.1:0', '--state-dir', state, '--log-dir', logDir];
  if (!reuse) args.push('--max-instance-reuse-count', '1');
  const env = { ...process.env };
  for (const [k, v] of Object.entries(variables)) env[`SPIN_VARIABLE_${k.toUpperCase()}`] = v;
  const proc = spawn(path.join(ROOT, 'target/host/verge-spin'), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr.resume();
  const url = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (l) => {
      const m = l.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) resolve(m[0]);
    });
    proc.once('exit', (code) => reject(new Error(`verge-spin exited with ${code}`)));
  });
  stops.push(async () => {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    fs.rmSync(state, { recursive: true, force: true });
    fs.rmSync(logDir, { recursive: true, force: true });
  });
  const log = () => {
    try {
      return fs.readFileSync(path.join(logDir, 'edge_stdout.txt'), 'utf8').split('\n');
    } catch {
      return [];
    }
  };
  return { url, state, log };
}

/** The Spin variables (tests/cache/spin.toml and the like) for the stack's settings `w` (edge_env_for_workers). */
export function edgeVariables(w) {
  return {
    s3_endpoint: w.VERGE_S3_ENDPOINT,
    web_access_key_id: w.VERGE_WEB_ACCESS_KEY_ID,
    web_secret_access_key: w.VERGE_WEB_SECRET_ACCESS_KEY,
    edge_access_key_id: w.VERGE_ORIGIN_ACCESS_KEY_ID,
    edge_secret_access_key: w.VERGE_ORIGIN_SECRET_ACCESS_KEY,
    jwks_url: w.VERGE_JWKS_URL,
    jwks_origin: new URL(w.VERGE_JWKS_URL).origin,
    oidc_issuer: w.VERGE_OIDC_ISSUER,
    oidc_client_secret: w.VERGE_OIDC_CLIENT_SECRET,
    session_secret: w.VERGE_SESSION_SECRET,
    public_url: 'http://127.0.0.1:1',
  };
}

/** The access log line for `requestId` among `lines()` (waits for it to be written). */
export async function findLog(lines, requestId) {
  for (let i = 0; i < 100; i += 1) {
    const line = lines().find((l) => l.includes(`"request_id":"${requestId}"`));
    if (line) return JSON.parse(line.slice(line.indexOf('{')));
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no access log line for ${requestId}`);
}

/**
 * POSTs to `url` with `headers`, writing the body with `write(req)` (so a test can declare one
 * length and send less, or stream chunks); resolves with the status and the parsed JSON body.
 */
export function postWith(url, headers, write) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    // A connection of its own (agent: false), closed after the answer: a request whose body was
    // cut short must not leave a half-written socket in the shared keep-alive pool.
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') });
        req.destroy();
      });
    });
    req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
    write(req);
  });
}
