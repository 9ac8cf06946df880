// The comparison: the same JWT-protected proxy written as a Hono worker with Hono's `jwk`
// middleware (jose-free: Hono verifies with WebCrypto), same JWKS, same origin.
import { Hono } from 'hono';
import { jwk } from 'hono/jwk';

const app = new Hono();
app.use('*', (c, next) => jwk({ jwks_uri: c.env.JWKS_URL, alg: ['ES256', 'RS256'] })(c, next));
app.all('*', async (c) => {
  const url = new URL(c.req.url);
  return fetch(c.env.ORIGIN_URL + url.pathname + url.search, { method: c.req.method, headers: { 'x-verge-user': c.get('jwtPayload').sub } });
});
export default app;
