// The Workers bundle's entry module (edge/workers/shim.js, bundled by scripts/build-workers.sh)
// on workerd: a plain module handler that keeps worker-build's recovery from a trap. A trap (a
// Rust panic, with panic = "abort") cannot be caused from outside on purpose, so a wrapper module
// around the real bundle raises the flag a trap raises (the `worker` crate's panic hook and the
// entry's error handler set `criticalError` on the shared init state), and the test checks that
// the next request is answered by a fresh instance: one reset, logged, a new instance id, and the
// edge serves again (its config parsed anew).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Miniflare } from 'miniflare';
import { ROOT } from './stack.mjs';

const WRAPPER = `
import edge from './index.js';
export { RateLimiter } from './index.js';
export default {
  fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === '/__test/flag-trap') {
      globalThis.__worker_init_state.criticalError = true;
      return new Response('flagged');
    }
    if (pathname === '/__test/instance') return new Response(String(globalThis.__worker_init_state.instanceId));
    return edge.fetch(request, env, ctx);
  },
};`;

let mf;
let url;
const log = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verge-entry-'));
before(async () => {
  const build = path.join(ROOT, 'edge/workers/build');
  for (const f of ['index.js', 'index_bg.wasm']) fs.copyFileSync(path.join(build, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'wrapper.mjs'), WRAPPER);
  const secret = () => randomBytes(32).toString('base64url');
  mf = new Miniflare({
    modules: true,
    scriptPath: path.join(dir, 'wrapper.mjs'),
    modulesRoot: dir,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }, { type: 'ESModule', include: ['**/*.js'] }],
    compatibilityDate: '2025-09-01',
    bindings: {
      VERGE_PUBLIC_URL: 'http://127.0.0.1:1', VERGE_WEB_ACCESS_KEY_ID: 'AKIDWEB', VERGE_ORIGIN_ACCESS_KEY_ID: 'AKIDEDGE',
      VERGE_WEB_SECRET_ACCESS_KEY: secret(), VERGE_ORIGIN_SECRET_ACCESS_KEY: secret(), VERGE_OIDC_CLIENT_SECRET: secret(), VERGE_SESSION_SECRET: secret(),
    },
    durableObjects: { VERGE_RATE_LIMITER: { className: 'RateLimiter', useSQLite: true } },
    host: '127.0.0.1',
    port: 0,
    handleRuntimeStdio: (stdout, stderr) => {
      for (const s of [stdout, stderr]) s.on('data', (d) => log.push(...d.toString().split('\n')));
    },
  });
  url = (await mf.ready).toString().replace(/\/$/, '');
});
after(async () => {
  await mf?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const instance = async () => Number(await (await fetch(`${url}/__test/instance`)).text());
const health = async () => {
  const r = await fetch(`${url}/_verge/health`);
  return { status: r.status, body: await r.json() };
};

test('after a trap the next request is served by a fresh instance', async () => {
  const before = await health();
  assert.equal(before.status, 200);
  const first = await instance();
  assert.ok(!log.some((l) => l.includes('Reinitializing Wasm application')), 'no reset before the flag');
  assert.equal(await (await fetch(`${url}/__test/flag-trap`)).text(), 'flagged');
  const again = await health();
  assert.equal(again.status, 200, 'served after the reset');
  assert.deepEqual(again.body.config, before.body.config, 'the same config, parsed anew');
  assert.ok((await instance()) > first, 'a new instance id');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(log.filter((l) => l.includes('Reinitializing Wasm application')).length, 1, 'one reset, logged');
  // The flag is cleared: later requests run on the new instance without another reset.
  assert.equal((await health()).status, 200);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(log.filter((l) => l.includes('Reinitializing Wasm application')).length, 1);
});
