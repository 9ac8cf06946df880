// The JS comparison for scripts/bench-cache.mjs: the JWT-protected proxied route (uncached) as a
// worker written the usual way, doing what Verge's /jwt/* behaviour does: Hono routing, `jose`
// (createRemoteJWKSet, kept per isolate so the JWKS is cached as Verge caches it, + jwtVerify with
// issuer, audience and algorithms), then the forwarded request SigV4-signed with `aws4fetch`
// (service execute-api, us-east-1) and the caller's subject in x-verge-user.
import { Hono } from 'hono';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { AwsClient } from 'aws4fetch';

let jwks;
let aws;
const app = new Hono();
// With the binding JS_ACCESS_LOG set, one JSON line per request as Verge writes (its fields), so
// that both sides do the same work; without it the worker logs nothing.
app.use('*', async (c, next) => {
  if (!c.env.JS_ACCESS_LOG) return next();
  const started = Date.now();
  const requestId = c.req.header('x-request-id') ?? crypto.randomUUID();
  await next();
  const u = new URL(c.req.url);
  console.log(JSON.stringify({
    request_id: requestId, trace_id: requestId.replaceAll('-', ''), method: c.req.method, path: u.pathname, behaviour: c.req.routePath,
    origin: 'api', auth: c.get('sub') ? 'jwt:main' : undefined, status: c.res.status,
    bytes: Number(c.res.headers.get('content-length') ?? 0) || undefined, duration_ms: Date.now() - started,
  }));
});
app.use('/jwt/*', async (c, next) => {
  jwks ??= createRemoteJWKSet(new URL(c.env.VERGE_JWKS_URL));
  const m = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '');
  if (!m) return c.json({ detail: 'unauthorized' }, 401, { 'www-authenticate': 'Bearer' });
  try {
    const { payload } = await jwtVerify(m[1], jwks, { issuer: 'https://id.verge.local', audience: 'verge', algorithms: ['RS256', 'ES256'] });
    c.set('sub', payload.sub);
  } catch {
    return c.json({ detail: 'invalid_token' }, 401, { 'www-authenticate': 'Bearer error="invalid_token"' });
  }
  return next();
});
async function forward(c, headers) {
  aws ??= new AwsClient({ accessKeyId: c.env.VERGE_ORIGIN_ACCESS_KEY_ID, secretAccessKey: c.env.VERGE_ORIGIN_SECRET_ACCESS_KEY, service: 'execute-api', region: 'us-east-1' });
  const url = new URL(c.req.url);
  const signed = await aws.sign(c.env.VERGE_ORIGIN_URL + url.pathname + url.search, { method: 'GET', headers });
  return fetch(signed, { redirect: 'manual' });
}
app.get('/jwt/*', (c) => forward(c, { 'x-verge-user': c.get('sub') }));
// The same forwarding without the token check, to split the JWT route's cost in two.
app.get('/nocache/*', (c) => forward(c, {}));
export default app;
