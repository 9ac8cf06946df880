// A programmable origin for the edge cache's black-box tests (tests/blackbox/cache.test.mjs).
// Each request belongs to a scenario: its `from` query parameter (the daily statistics behaviour
// keys on the query) or else its path. The test says per scenario what to answer (status,
// headers, body: values or functions of the request and its number), whether to wait first or
// drop the connection, or end the body late, and reads back how many requests reached the origin. It does not check
// the edge's SigV4 signature: the real origin's own tests do that; this one only plays an
// origin's caching headers.
import http from 'node:http';

export async function startTestOrigin() {
  const scenarios = new Map();
  const log = new Map();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://origin');
    const name = u.searchParams.get('from') ?? u.pathname;
    const seen = log.get(name) ?? [];
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    log.set(name, seen);
    const n = seen.length;
    const s = scenarios.get(name) ?? {};
    const value = (v, fallback) => (typeof v === 'function' ? v(req, n) : v ?? fallback);
    if (value(s.drop, false)) {
      req.socket.destroy();
      return;
    }
    const respond = () => {
      const status = value(s.status, 200);
      const body = value(s.body, JSON.stringify({ scenario: name, n, user: req.headers['x-verge-user'] ?? null, lang: req.headers['accept-language'] ?? null }));
      const sent = status === 304 || req.method === 'HEAD' ? undefined : body;
      // A complete body goes with its length, as most origins send one; `chunked` leaves it out.
      const length = sent === undefined || value(s.chunked, false) ? {} : { 'content-length': Buffer.byteLength(sent) };
      res.writeHead(status, { 'content-type': 'application/json', ...length, ...value(s.headers, {}) });
      // `tail`: the body so far now, then `tail.body` after `tail.delayMs` (a slow end).
      const tail = value(s.tail, null);
      if (tail && sent !== undefined) {
        res.write(sent);
        setTimeout(() => res.end(tail.body), tail.delayMs);
      } else res.end(sent);
    };
    const delay = value(s.delayMs, 0);
    if (delay) setTimeout(respond, delay);
    else respond();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    /** What to answer for a scenario (replaces what was set before). */
    set: (name, scenario) => scenarios.set(name, scenario),
    /** Requests the scenario received so far. */
    requests: (name) => log.get(name) ?? [],
    count: (name) => (log.get(name) ?? []).length,
    close: () => new Promise((r) => server.close(r)),
  };
}
