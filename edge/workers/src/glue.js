// Crossings between the edge's wasm and workerd, one call each where web-sys would need one per
// header: header lists travel as "name\nvalue\n" lines (names and values cannot contain a
// newline; iteration yields each set-cookie on its own). Origin bodies never enter wasm unless
// the edge must read them: a forwarded response's stream is handed back to workerd as it is.

function lines(headers) {
  let s = '';
  for (const [k, v] of headers) s += `${k}\n${v}\n`;
  return s;
}

function headers(lines) {
  const h = new Headers();
  const p = lines.split('\n');
  for (let i = 0; i + 1 < p.length; i += 2) h.append(p[i], p[i + 1]);
  return h;
}

// Statuses whose responses must not have a body (Fetch standard, "null body status").
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

// "METHOD\nURL\n" followed by the header lines.
export function requestHead(req) {
  return `${req.method}\n${req.url}\n${lines(req.headers)}`;
}

export function hasBody(r) {
  return r.body !== null;
}

// A request body of at most `limit` bytes: a Content-Length over it is refused before any byte is
// read, a longer body without one is cut off at the limit (the rest is never read). Throws an
// Error named "TooLarge" (message: the declared length, or "") past the limit.
export async function readRequestBody(req, limit) {
  const tooLarge = (len) => Object.assign(new Error(len), { name: 'TooLarge' });
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge(declared);
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      reader.cancel().catch(() => {});
      throw tooLarge('');
    }
    chunks.push(value);
  }
  return concat(chunks, total);
}

// The chunks as one array of `total` bytes.
function concat(chunks, total) {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

// A response the edge made: `body` is a view into wasm memory, copied before this returns.
export function newResponse(status, headerLines, body) {
  return new Response(body.length === 0 || NULL_BODY.has(status) ? null : body.slice(), { status, headers: headers(headerLines) });
}

// An origin's response relayed with the edge's status and headers; its body streams through.
export function relayResponse(status, headerLines, origin) {
  return new Response(NULL_BODY.has(status) ? null : origin.body, { status, headers: headers(headerLines) });
}

// Sends a request to an origin without following redirects. Resolves to [status, header lines,
// the Response] once the head has arrived, or to [status, header lines, bytes] with `whole`.
// `timeoutMs` bounds the wait for the head (and for the body, with `whole`).
export async function originFetch(url, method, headerLines, body, timeoutMs, whole) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new DOMException('the origin did not answer in time', 'TimeoutError')), timeoutMs);
  try {
    const resp = await fetch(url, {
      method,
      headers: headers(headerLines),
      // A copy: the view into wasm memory must not outlive this call.
      body: body.length === 0 ? null : body.slice(),
      redirect: 'manual',
      signal: abort.signal,
    });
    const out = whole ? await readBody(resp) : resp;
    return [resp.status, lines(resp.headers), out];
  } finally {
    clearTimeout(timer);
  }
}

// A timer of the calling request's own (a request waiting for another's cache fill polls on it:
// workerd does not let one request's promise resolve another's).
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function readBody(resp) {
  return resp.body === null ? new Uint8Array(0) : new Uint8Array(await resp.arrayBuffer());
}

// Reads an origin body of unknown length up to `max` bytes: the bytes when it ends by then;
// past it, a Response whose body is what was read followed by the rest as the client pulls it
// (so a large answer is relayed, never held whole in the isolate).
export async function readCapped(resp, max) {
  if (resp.body === null) return new Uint8Array(0);
  const reader = resp.body.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total > max) {
      const rest = new ReadableStream({
        start(c) {
          for (const chunk of chunks) c.enqueue(chunk);
          chunks.length = 0;
        },
        async pull(c) {
          const { done, value } = await reader.read();
          if (done) c.close();
          else c.enqueue(value);
        },
        cancel(reason) {
          return reader.cancel(reason);
        },
      });
      return new Response(rest, { status: resp.status, headers: resp.headers });
    }
  }
  return concat(chunks, total);
}

// Releases an origin body nobody will read, so its connection can be reused.
export function discardBody(resp) {
  if (resp.body !== null && !resp.bodyUsed) resp.body.cancel().catch(() => {});
}

// The edge cache's shared tier: `caches.default`, one data centre (a no-op on *.workers.dev).
// Values are the edge core's encoded entries under synthetic https URLs of their 64-hex keys,
// stored as plain 200 responses (never 206, `Vary: *` or `Set-Cookie`, which put() refuses or
// skips) with a max-age as long as the core wants them kept: the core judges freshness and the
// stale windows itself, which the Cache API ignores. A failure is a miss, never an error.
export async function cacheGet(url) {
  try {
    const r = await caches.default.match(url);
    return r ? new Uint8Array(await r.arrayBuffer()) : null;
  } catch {
    return null;
  }
}

export async function cachePut(url, body, keepSecs) {
  // The copy is made before the first await: the view into wasm memory must not outlive the call.
  const resp = new Response(body.slice(), {
    headers: { 'cache-control': `public, max-age=${Math.max(1, Math.floor(keepSecs))}`, 'content-type': 'application/octet-stream' },
  });
  try {
    await caches.default.put(url, resp);
  } catch {
    // Over the per-request cache call limit, or a storage error: the entry stays in memory only.
  }
}

export async function cacheDelete(url) {
  try {
    await caches.default.delete(url);
  } catch {
    // As above.
  }
}
