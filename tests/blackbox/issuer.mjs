// A token issuer for tests: real key pairs (node:crypto), a JWKS endpoint that can rotate keys or
// go down, and a minting function that can also produce every kind of bad token.
import http from 'node:http';
import crypto from 'node:crypto';

export const ISSUER = 'https://id.verge.local';

const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

export async function startIssuer() {
  const keys = {
    ec1: { alg: 'ES256', ...crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }) },
    rsa1: { alg: 'RS256', ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }) },
    ec2: { alg: 'ES256', ...crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }) },
  };
  // `latencyMs` delays JWKS answers, as a real issuer's endpoint is some way from an edge.
  const state = { published: ['ec1', 'rsa1'], down: false, fetches: 0, latencyMs: 0 };
  const jwks = () => ({
    keys: state.published.map((kid) => ({ ...keys[kid].publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: keys[kid].alg })),
  });
  const server = http.createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    state.fetches += 1;
    if (state.down) {
      res.writeHead(503).end();
      return;
    }
    const body = JSON.stringify(jwks());
    const answer = () => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300', 'content-length': Buffer.byteLength(body) }).end(body);
    if (state.latencyMs > 0) setTimeout(answer, state.latencyMs);
    else answer();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/.well-known/jwks.json`;

  /** A signed token; `header`/`claims` override the defaults (null removes a claim). */
  function mint({ kid = 'ec1', claims = {}, header = {}, signWith } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: ISSUER, aud: 'verge', sub: 'user-1', iat: now, exp: now + 600, scope: 'read', ...claims };
    for (const [k, v] of Object.entries(payload)) if (v === null) delete payload[k];
    const alg = header.alg ?? keys[kid]?.alg ?? 'ES256';
    const h = { alg, kid, typ: 'JWT', ...header };
    const input = `${b64(h)}.${b64(payload)}`;
    let sig;
    if (signWith) sig = signWith(input);
    else if (alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(input), { key: keys[kid].privateKey, dsaEncoding: 'ieee-p1363' });
    else if (alg === 'RS256') sig = crypto.sign('sha256', Buffer.from(input), keys[kid].privateKey);
    else sig = Buffer.alloc(0);
    return `${input}.${Buffer.from(sig).toString('base64url')}`;
  }

  const rsaPublicPem = keys.rsa1.publicKey.export({ type: 'spki', format: 'pem' });
  return { url, state, mint, rsaPublicPem, close: () => new Promise((r) => server.close(r)) };
}
