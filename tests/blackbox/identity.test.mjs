// Identity at the edge, black-box on both runtimes: tokens from a real issuer (node:crypto keys,
// a live JWKS endpoint), API keys created and revoked through the edge, the origin enforcing the
// scopes and identities the edge forwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { originCall, raw, startStack } from './stack.mjs';

let env;
before(async () => {
  env = await startStack();
});
after(async () => {
  await env?.stop();
});

const bearer = (t) => ({ authorization: `Bearer ${t}` });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const runtime of ['spin', 'workers']) {
  describe(`JWT on the ${runtime} edge`, () => {
    const edge = () => env.edges[runtime];
    const admin = (kid = 'ec1') => env.issuer.mint({ kid, claims: { scope: 'read admin', sub: `admin-${runtime}` } });

    test('valid ES256 and RS256 tokens reach the origin, which sees the scopes', async () => {
      for (const kid of ['ec1', 'rsa1']) {
        const r = await raw(edge(), 'GET', '/api/admin/keys', { headers: bearer(admin(kid)) });
        assert.equal(r.status, 200, `${kid}: ${r.text}`);
        assert.ok(Array.isArray(r.json.keys));
      }
    });

    test('the access log names who admitted the request and who checked the signature: once', async () => {
      // Workers checks ES256 and RS256 with WebCrypto (crypto.subtle); Spin in Rust.
      const expected = runtime === 'workers' ? 'webcrypto' : 'rust';
      for (const kid of ['ec1', 'rsa1']) {
        const token = env.issuer.mint({ kid, claims: { jti: crypto.randomUUID(), scope: 'read admin' } });
        const first = `log-${runtime}-${kid}-${crypto.randomUUID()}`;
        assert.equal((await raw(edge(), 'GET', '/api/admin/keys', { headers: { ...bearer(token), 'x-request-id': first } })).status, 200);
        const line = await env.accessLog(runtime, first);
        assert.equal(line.auth, 'jwt:main');
        assert.equal(line.signature, expected, `${kid} on ${runtime}`);
        assert.ok(!JSON.stringify(line).includes(token.slice(-20)), 'the token is never logged');
        const again = `log-${runtime}-${kid}-${crypto.randomUUID()}`;
        assert.equal((await raw(edge(), 'GET', '/api/admin/keys', { headers: { ...bearer(token), 'x-request-id': again } })).status, 200);
        assert.equal((await env.accessLog(runtime, again)).signature, undefined, 'the second time the token is a cache hit');
      }
    });

    test('a missing scope is 403 insufficient_scope; no token is 401', async () => {
      const r = await raw(edge(), 'GET', '/api/admin/keys', { headers: bearer(env.issuer.mint({ claims: { scope: 'read' } })) });
      assert.equal(r.status, 403);
      assert.match(r.headers['www-authenticate'], /^Bearer error="insufficient_scope"/);
      assert.equal(r.headers['content-type'], 'application/problem+json');
      const none = await raw(edge(), 'GET', '/api/admin/keys');
      assert.equal(none.status, 401);
      assert.match(none.headers['www-authenticate'], /error="invalid_token"/);
    });

    test('the usual attacks are refused with 401 invalid_token', async () => {
      const { mint, rsaPublicPem } = env.issuer;
      const good = mint();
      const [h, p, s] = good.split('.');
      const now = Math.floor(Date.now() / 1000);
      const attacks = {
        'alg none': `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'ec1' })).toString('base64url')}.${p}.`,
        'HS256 signed with the RSA public key': mint({ kid: 'rsa1', header: { alg: 'HS256' }, signWith: (input) => crypto.createHmac('sha256', rsaPublicPem).update(input).digest() }),
        'unknown kid': mint({ header: { kid: 'nope' } }),
        expired: mint({ claims: { exp: now - 3600 } }),
        'not yet valid': mint({ claims: { nbf: now + 3600 } }),
        'wrong iss': mint({ claims: { iss: 'https://evil.example' } }),
        'wrong aud': mint({ claims: { aud: 'someone-else' } }),
        'tampered payload': `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url')), scope: 'read admin' })).toString('base64url')}.${s}`,
        truncated: good.slice(0, good.length - 20),
        'oversized header': mint({ header: { pad: 'x'.repeat(9000) } }),
        'unknown crit': mint({ header: { crit: ['exp-v2'], 'exp-v2': 1 } }),
        'jku pointing elsewhere': mint({ header: { jku: 'https://evil.example/jwks.json' } }),
      };
      for (const [name, token] of Object.entries(attacks)) {
        const r = await raw(edge(), 'GET', '/api/admin/keys', { headers: bearer(token) });
        assert.equal(r.status, 401, `${name}: ${r.status} ${r.text}`);
        assert.match(r.headers['www-authenticate'], /^Bearer error="invalid_token", error_description="/, name);
        assert.ok(!r.text.includes(token.slice(0, 30)), `${name}: the token is not echoed`);
      }
    });

    test('a client-sent identity header never reaches the origin', async () => {
      const victim = `victim-${runtime}-${Date.now()}`;
      const r = await raw(edge(), 'POST', '/api/numbers', {
        headers: { 'content-type': 'application/json', 'x-verge-user': victim, 'x-verge-scopes': 'admin' },
        body: JSON.stringify({ value: 13 }),
      });
      assert.equal(r.status, 201, r.text);
      const today = new Date().toISOString().slice(0, 10);
      const stats = await originCall(env.stack, 'GET', `/api/stats/daily?from=${today}&to=${today}`, { headers: { 'x-verge-user': victim } });
      assert.deepEqual(stats.json.days, [], 'filed under anonymous, not the victim');
      const forged = await raw(edge(), 'GET', '/api/admin/keys', { headers: { 'x-verge-scopes': 'admin', 'x-verge-user': 'root' } });
      assert.equal(forged.status, 401);
    });

    test('API keys: created through the edge, used, cached, refused when unknown', async () => {
      const partner = `acme-${runtime}-${Date.now()}`;
      const created = await raw(edge(), 'POST', '/api/admin/keys', {
        headers: { ...bearer(admin()), 'content-type': 'application/json' },
        body: JSON.stringify({ consumer: partner }),
      });
      assert.equal(created.status, 201, created.text);
      const key = created.json.key;
      const use = () => raw(edge(), 'GET', `/api/partners/${partner}/orders`, { headers: { 'x-api-key': key } });
      assert.equal((await use()).status, 200, 'the consumer the edge forwards matches the partner');
      const other = await raw(edge(), 'GET', '/api/partners/globex/orders', { headers: { 'x-api-key': key } });
      assert.equal(other.status, 403, "another partner's route");
      const bad = await raw(edge(), 'GET', `/api/partners/${partner}/orders`, { headers: { 'x-api-key': 'vk_nope' } });
      assert.equal(bad.status, 401);
      assert.equal(bad.headers['content-type'], 'application/problem+json');
      // Revoked at the origin: the edge's positive verdict stays cached for its TTL (300 s),
      // like API Gateway's authorizer cache; the unit tests step the clock past it.
      const del = await raw(edge(), 'DELETE', `/api/admin/keys/${created.json.id}`, { headers: bearer(admin()) });
      assert.equal(del.status, 204);
      assert.equal((await use()).status, 200, 'cached verdict within the TTL');
      const lookup = await originCall(env.stack, 'GET', '/api/keys/lookup', { headers: { 'x-verge-api-key-hash': crypto.createHash('sha256').update(key).digest('hex') } });
      assert.equal(lookup.status, 404, 'revoked at the origin');
    });
  });
}

describe('JWKS rotation and outage', () => {
  test('a new kid is picked up by refetching; the JWKS going down keeps cached keys working', async () => {
    const { issuer } = env;
    const warm = issuer.mint({ kid: 'ec1', claims: { scope: 'read admin' } });
    for (const runtime of ['spin', 'workers']) {
      assert.equal((await raw(env.edges[runtime], 'GET', '/api/admin/keys', { headers: bearer(warm) })).status, 200);
    }
    issuer.state.published = ['ec2', 'rsa1'];
    await sleep(10_500); // the shipped config refetches on an unknown kid at most every 10 s
    const rotated = issuer.mint({ kid: 'ec2', claims: { scope: 'read admin' } });
    for (const runtime of ['spin', 'workers']) {
      const r = await raw(env.edges[runtime], 'GET', '/api/admin/keys', { headers: bearer(rotated) });
      assert.equal(r.status, 200, `${runtime}: ${r.text}`);
    }
    issuer.state.down = true;
    const fetchesBefore = issuer.state.fetches;
    const still = issuer.mint({ kid: 'rsa1', claims: { scope: 'read admin' } });
    for (const runtime of ['spin', 'workers']) {
      assert.equal((await raw(env.edges[runtime], 'GET', '/api/admin/keys', { headers: bearer(still) })).status, 200, runtime);
    }
    assert.equal(issuer.state.fetches, fetchesBefore, 'served from the cache');
    issuer.state.down = false;
  });
});
