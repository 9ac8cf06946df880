// The Worker's entry module, bundled with wasm-bindgen's output by scripts/build-workers.sh (in
// place of the entry worker-build generates, which constructs a WorkerEntrypoint class and two
// Proxy objects around it on every request: 2-3% of the edge's CPU time per request on
// workerd, docs/benchmarks.md).
//
// What it keeps of worker-build's entry is the recovery from a trap (WebAssembly.RuntimeError,
// which is what a panic is with panic = "abort"): the instance's memory may then be inconsistent,
// so the next call starts from a fresh instance (`__wbg_reset_state`, wasm-bindgen's
// --experimental-reset-state-function) and the Durable Object instances made before it are made
// again. The `worker` crate's panic hook sets the same flag.
import * as wasm from './index.js';

Error.stackTraceLimit = 100;
const init = wasm.__worker_init_state();

function resetIfCritical() {
  if (init.criticalError) {
    console.log('Reinitializing Wasm application');
    wasm.__wbg_reset_state();
    init.criticalError = false;
    init.instanceId += 1;
  }
}

function noteCritical(e) {
  if (e instanceof WebAssembly.RuntimeError) {
    console.error('Critical', e);
    init.criticalError = true;
  }
}

addEventListener('error', (e) => noteCritical(e.error));

// A plain module handler: workerd calls it as it is, with nothing constructed per request.
export default {
  async fetch(request, env, ctx) {
    resetIfCritical();
    try {
      return await wasm.fetch(request, env, ctx);
    } catch (e) {
      noteCritical(e);
      throw e;
    }
  },
};

// The rate limiter's Durable Object class: each object wraps an instance of the wasm-bindgen
// class, made again after a reset (an instance from before it points into the old memory).
export class RateLimiter {
  #args;
  #inner;
  #instanceId;

  constructor(...args) {
    resetIfCritical();
    this.#args = args;
    this.#make();
  }

  #make() {
    this.#inner = new wasm.RateLimiter(...this.#args);
    this.#instanceId = init.instanceId;
  }

  async #call(name, args) {
    resetIfCritical();
    if (this.#instanceId !== init.instanceId) this.#make();
    try {
      return await this.#inner[name](...args);
    } catch (e) {
      noteCritical(e);
      throw e;
    }
  }

  fetch(...args) {
    return this.#call('fetch', args);
  }

  alarm(...args) {
    return this.#call('alarm', args);
  }
}
