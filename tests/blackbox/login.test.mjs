// OIDC login at the edge, driven over HTTP against a real OpenID provider (oidc-provider, run by
// the stack), on both runtimes: PKCE login, the session cookie, /auth/me, session-protected API
// calls, a tampered state, a replayed code, renewal with the refresh token, logout (a same-origin
// POST that revokes the refresh token); roles from the provider's `groups` claim as the session's
// scopes (the admin and partner APIs without any token), and writes with the cookie only from
// the site's own pages.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { raw, startStack } from './stack.mjs';

let env;
before(async () => {
  env = await startStack();
});
after(async () => {
  await env?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const split = (url) => {
  const u = new URL(url);
  return [`${u.protocol}//${u.host}`, `${u.pathname}${u.search}`];
};
const cookiesOf = (r) => [].concat(r.headers['set-cookie'] ?? []);
const store = (jar, r) => {
  for (const c of cookiesOf(r)) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    const [name, value] = [pair.slice(0, i), pair.slice(i + 1)];
    if (value === '' || /Max-Age=0/i.test(c)) jar.delete(name);
    else jar.set(name, value);
  }
};
const header = (jar) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

/** Sets a user's groups at the provider (its administrator's action), for tokens issued afterwards. */
async function setGroups(user, groups) {
  const { idp, edge_env_for_workers: { VERGE_OIDC_CLIENT_SECRET: secret } } = env.stack;
  const r = await fetch(`${idp}/dev/accounts/${encodeURIComponent(user)}/groups`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(groups),
  });
  assert.equal(r.status, 204);
}

/** A signed-in session's cookie header for `user`. */
async function signedIn(edge, user) {
  const { done, edgeJar } = await login(edge, user);
  assert.equal(done.status, 303, done.text);
  store(edgeJar, done);
  return header(edgeJar);
}

/** Logs in at the edge as `user`; returns the edge cookie jar and the callback URL that was used. */
async function login(edge, user, { tamperState = false } = {}) {
  const edgeJar = new Map();
  const idpJar = new Map();
  const start = await raw(edge, 'GET', '/auth/login?return_to=%2Fstats%3Fdays%3D7');
  assert.equal(start.status, 303, start.text);
  store(edgeJar, start);
  const authUrl = new URL(start.headers.location);
  assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(authUrl.searchParams.get('state') && authUrl.searchParams.get('nonce') && authUrl.searchParams.get('code_challenge'));
  let location = start.headers.location;
  let callback;
  for (let hop = 0; hop < 12 && !callback; hop += 1) {
    const [base, path] = split(location);
    if (base === edge) {
      callback = path;
      break;
    }
    let r = await raw(base, "GET", path, { headers: { cookie: header(idpJar) } });
    store(idpJar, r);
    if (r.status === 200) {
      // The provider's login form (any username signs in), then its consent form: submit each
      // with its hidden fields, as a browser would.
      const action = new URL(/action="([^"]+)"/.exec(r.text)[1], base);
      const fields = [...r.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map(([, k, v]) => `${k}=${encodeURIComponent(v)}`);
      if (/name="login"/.test(r.text)) fields.push(`login=${encodeURIComponent(user)}`, 'password=x');
      const body = fields.join('&');
      r = await raw(base, 'POST', `${action.pathname}${action.search}`, { headers: { cookie: header(idpJar), 'content-type': 'application/x-www-form-urlencoded' }, body });
      store(idpJar, r);
    }
    location = new URL(r.headers.location, base).toString();
  }
  assert.ok(callback, 'the provider sent the browser back to the edge');
  if (tamperState) callback = callback.replace(/state=[^&]+/, 'state=forged');
  const done = await raw(edge, 'GET', callback, { headers: { cookie: header(edgeJar) } });
  return { done, edgeJar, callback, loginCookie: header(new Map([...edgeJar].filter(([k]) => k === '__Host-verge-login'))) };
}

for (const runtime of ['spin', 'workers']) {
  describe(`login on the ${runtime} edge`, () => {
    const edge = () => env.edges[runtime];

    test('PKCE login sets one sealed HttpOnly session cookie and returns to the page', async () => {
      const { done, edgeJar } = await login(edge(), `ada-${runtime}`);
      assert.equal(done.status, 303, done.text);
      assert.equal(done.headers.location, '/stats?days=7');
      const session = cookiesOf(done).find((c) => c.startsWith('__Host-verge-session='));
      assert.ok(session, cookiesOf(done).join('\n'));
      for (const attr of ['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/']) assert.ok(session.includes(attr), `${attr} in ${session}`);
      assert.ok(!/Domain=/i.test(session));
      store(edgeJar, done);
      assert.ok(!edgeJar.has('__Host-verge-login'), 'the login cookie is cleared');
      const value = edgeJar.get('__Host-verge-session');
      assert.ok(!value.includes('.') && !Buffer.from(value, 'base64url').toString().includes('ada'), 'sealed, not readable');

      const me = await raw(edge(), 'GET', '/auth/me', { headers: { cookie: header(edgeJar) } });
      assert.equal(me.status, 200, me.text);
      assert.equal(me.json.sub, `ada-${runtime}`);
      assert.equal(me.json.email, `ada-${runtime}@verge.local`);
      assert.equal(me.json.access_token, undefined);

      // A session-protected API call reaches the origin as this user (no bank connected: 404).
      const accounts = await raw(edge(), 'GET', '/api/me/accounts', { headers: { cookie: header(edgeJar) } });
      assert.equal(accounts.status, 404, accounts.text);
      assert.match(accounts.json.detail, /no bank connection/);
      const anonymous = await raw(edge(), 'GET', '/api/me/accounts');
      assert.equal(anonymous.status, 401);
      assert.equal((await raw(edge(), 'GET', '/auth/me')).status, 401);
    });

    test('the session is renewed with the refresh token before the access token expires', async () => {
      const { done, edgeJar } = await login(edge(), `renew-${runtime}`);
      store(edgeJar, done);
      const before = edgeJar.get('__Host-verge-session');
      await sleep(2500); // access tokens live 62 s; the edge renews within 60 s of expiry
      const r = await raw(edge(), 'GET', '/api/me/accounts', { headers: { cookie: header(edgeJar) } });
      assert.equal(r.status, 404, r.text);
      const renewed = cookiesOf(r).find((c) => c.startsWith('__Host-verge-session='));
      assert.ok(renewed, 'a renewed session cookie');
      store(edgeJar, r);
      assert.notEqual(edgeJar.get('__Host-verge-session'), before);
      const again = await raw(edge(), 'GET', '/auth/me', { headers: { cookie: header(edgeJar) } });
      assert.equal(again.json.sub, `renew-${runtime}`);
    });

    test('a session whose renewal the provider refuses has expired: 401, and the API is closed to it', async () => {
      const user = `gone-${runtime}`;
      const { done, edgeJar } = await login(edge(), user);
      store(edgeJar, done);
      const live = await raw(edge(), 'GET', '/api/me/accounts', { headers: { cookie: header(edgeJar) } });
      assert.equal(live.status, 404, `the session works: ${live.text}`);
      store(edgeJar, live);
      // An administrator disables the account at the provider; the edge's next renewal is refused.
      const { idp, edge_env_for_workers: { VERGE_OIDC_CLIENT_SECRET: secret } } = env.stack;
      const disable = await fetch(`${idp}/dev/accounts/${user}/disable`, { method: 'POST', headers: { authorization: `Bearer ${secret}` } });
      assert.equal(disable.status, 204);
      await sleep(2500); // past the point where the edge renews (access tokens live 62 s here)
      const r = await raw(edge(), 'GET', '/api/me/accounts', { headers: { cookie: header(edgeJar) } });
      assert.equal(r.status, 401, r.text);
      assert.equal(r.headers['content-type'], 'application/problem+json');
      assert.match(r.json.detail, /the session has expired/);
      assert.ok(!cookiesOf(r).some((c) => c.startsWith('__Host-verge-session=') && !/Max-Age=0/.test(c)), 'no renewed session');
    });

    test('a tampered state, a replayed code and a forged session are refused', async () => {
      const tampered = await login(edge(), `mallory-${runtime}`, { tamperState: true });
      assert.equal(tampered.done.status, 400);
      assert.equal(tampered.done.json.type, 'https://verge.dev/problems/login-failed');
      assert.ok(!cookiesOf(tampered.done).some((c) => c.startsWith('__Host-verge-session=')));

      const first = await login(edge(), `eve-${runtime}`);
      assert.equal(first.done.status, 303);
      const replay = await raw(edge(), 'GET', first.callback, { headers: { cookie: first.loginCookie } });
      assert.equal(replay.status, 400, 'the code was already used');
      assert.match(replay.json.detail, /rejected the authorization code/);

      const forged = await raw(edge(), 'GET', '/auth/me', { headers: { cookie: '__Host-verge-session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
      assert.equal(forged.status, 401);
      const noLogin = await raw(edge(), 'GET', '/auth/callback?code=x&state=y');
      assert.equal(noLogin.status, 400);
      const offsite = await raw(edge(), 'GET', '/auth/login?return_to=%2F%2Fevil.example');
      assert.equal(offsite.status, 303);
    });

    test('roles: a session without the admin role gets 403 on the admin API, with it 200; partner:ID opens that partner', async () => {
      const plain = await signedIn(edge(), `plain-${runtime}`);
      const me = await raw(edge(), 'GET', '/auth/me', { headers: { cookie: plain } });
      assert.deepEqual(me.json.scopes, []);
      const refused = await raw(edge(), 'GET', '/api/admin/keys', { headers: { cookie: plain } });
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.headers['content-type'], 'application/problem+json');
      assert.equal(refused.json.type, 'https://verge.dev/problems/insufficient-scope');
      assert.match(refused.json.detail, /the signed-in user lacks the scope admin/);
      assert.equal((await raw(edge(), 'GET', `/api/partners/acme-${runtime}/orders`, { headers: { cookie: plain } })).status, 403, 'no partner role');

      const boss = `boss-${runtime}`;
      const partner = `acme-${runtime}`;
      await setGroups(boss, ['admin', `partner:${partner}`, 'not a role']);
      const cookie = await signedIn(edge(), boss);
      assert.deepEqual((await raw(edge(), 'GET', '/auth/me', { headers: { cookie } })).json.scopes, ['admin', `partner:${partner}`]);
      const keys = await raw(edge(), 'GET', '/api/admin/keys', { headers: { cookie } });
      assert.equal(keys.status, 200, keys.text);
      assert.ok(Array.isArray(keys.json.keys));
      // A write from the site's own page: created and revoked with the session alone.
      const origin = new URL(edge()).origin;
      const own = { cookie, origin, 'sec-fetch-site': 'same-origin' };
      const created = await raw(edge(), 'POST', '/api/admin/keys', {
        headers: { ...own, 'content-type': 'application/json' },
        body: JSON.stringify({ consumer: partner, plan: { rate_per_second: 5, burst: 10, quota_per_day: 1000 } }),
      });
      assert.equal(created.status, 201, created.text);
      assert.equal((await raw(edge(), 'DELETE', `/api/admin/keys/${created.json.id}`, { headers: own })).status, 204);
      // The partner's own orders, and no other partner's.
      const orders = await raw(edge(), 'GET', `/api/partners/${partner}/orders`, { headers: { cookie } });
      assert.equal(orders.status, 200, orders.text);
      assert.deepEqual(orders.json.orders, []);
      const other = await raw(edge(), 'GET', `/api/partners/globex-${runtime}/orders`, { headers: { cookie } });
      assert.equal(other.status, 403, other.text);
      assert.match(other.json.detail, /partner:globex/);
    });

    test('a write with the session cookie from another page of the same site, or another site, is refused 403', async () => {
      const user = `csrf-${runtime}`;
      const partner = `csrf-${runtime}`;
      await setGroups(user, ['admin', `partner:${partner}`]);
      const cookie = await signedIn(edge(), user);
      const body = JSON.stringify({ consumer: partner, plan: { rate_per_second: 5, burst: 10, quota_per_day: 1000 } });
      for (const [why, extra] of [
        ['another site', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }],
        ['a same-site page the CORS policy trusts', { origin: 'https://shop.verge.dev', 'sec-fetch-site': 'same-site' }],
        ['a form post that says nothing of where it came from', {}],
      ]) {
        const r = await raw(edge(), 'POST', '/api/admin/keys', { headers: { cookie, 'content-type': 'application/json', ...extra }, body });
        assert.equal(r.status, 403, `${why}: ${r.text}`);
        assert.equal(r.headers['content-type'], 'application/problem+json');
        assert.equal(r.json.type, 'https://verge.dev/problems/cross-site', why);
        const orders = await raw(edge(), 'POST', `/api/partners/${partner}/orders`, {
          headers: { cookie, 'content-type': 'application/json', ...extra },
          body: JSON.stringify({ orders: [] }),
        });
        assert.equal(orders.status, 403, `orders, ${why}: ${orders.text}`);
      }
      const keys = await raw(edge(), 'GET', '/api/admin/keys', { headers: { cookie } });
      assert.ok(!keys.json.keys.some((k) => k.consumer === partner), 'no key was created');
    });

    test('logout is a same-origin POST: clears the session, revokes the refresh token, ends the provider session', async () => {
      const { done, edgeJar } = await login(edge(), `bye-${runtime}`);
      store(edgeJar, done);
      const origin = new URL(edge()).origin;
      const cookie = header(edgeJar);
      const get = await raw(edge(), 'GET', '/auth/logout', { headers: { cookie } });
      assert.equal(get.status, 405, 'a link or an image on any site must not sign the user out');
      assert.equal(get.headers.allow, 'POST');
      const crossSite = await raw(edge(), 'POST', '/auth/logout', { headers: { cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
      assert.equal(crossSite.status, 403);
      assert.equal(crossSite.headers['content-type'], 'application/problem+json');
      assert.ok(!cookiesOf(crossSite).length);
      const out = await raw(edge(), 'POST', '/auth/logout', { headers: { cookie, origin, 'sec-fetch-site': 'same-origin' } });
      assert.equal(out.status, 303, out.text);
      assert.match(out.headers.location, /\/session\/end\?client_id=verge-web/);
      const cleared = cookiesOf(out).find((c) => c.startsWith('__Host-verge-session='));
      assert.match(cleared, /Max-Age=0/);
      // The refresh token was revoked at the provider: a copy of the old cookie cannot be renewed.
      await sleep(2500); // past the point where the edge renews (access tokens live 62 s here)
      const stolen = await raw(edge(), 'GET', '/api/me/accounts', { headers: { cookie } });
      assert.equal(stolen.status, 401, stolen.text);
      assert.match(stolen.json.detail, /the session has expired/);
    });
  });
}
