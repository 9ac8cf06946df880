// A real OpenID Connect provider for local runs and tests: `oidc-provider`, a certified
// implementation, with its development login screens (any username signs in as that user).
//
//   node idp/idp.mjs PORT [CLIENT_SECRET] [ACCESS_TOKEN_TTL_S]
//
// One client, `verge-web`: authorization code with PKCE (required), refresh tokens, and the
// edge's callback on any loopback port (RFC 8252 loopback redirects for native clients).
//
// An administrator's action, for tests: `POST /dev/accounts/SUB/disable` with the client secret
// as a bearer token disables an account, after which its refresh tokens are refused (as an IdP
// does for a user an administrator signed out or removed).
//
// Roles: ID tokens carry a `groups` claim (the edge's `roles_claim`). The user `admin` is in
// `admin`, `acme` in `partner:acme`, anyone else in none; `PUT /dev/accounts/SUB/groups` with a
// JSON array of strings (and the client secret as a bearer token) sets a user's groups, as an
// administrator would in the provider's console. Tokens issued afterwards carry them.
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 9400);
const secret = process.argv[3] ?? 'verge-dev-secret';
const accessTtl = Number(process.argv[4] ?? 3600);
const issuer = `http://127.0.0.1:${port}`;

const disabled = new Set();
const groups = new Map([['admin', ['admin']], ['acme', ['partner:acme']]]);

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'verge-web',
      client_secret: secret,
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/auth/callback', 'http://localhost/auth/callback'],
      post_logout_redirect_uris: ['http://127.0.0.1/', 'http://localhost/'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  findAccount: async (_ctx, sub) => disabled.has(sub) ? undefined : ({
    accountId: sub,
    claims: async () => ({ sub, email: `${sub}@verge.local`, email_verified: true, name: `Dev ${sub}`, groups: groups.get(sub) ?? [] }),
  }),
  claims: { openid: ['sub', 'groups'], email: ['email', 'email_verified'], profile: ['name'] },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  // revocation: RFC 7009, announced as revocation_endpoint; the edge revokes the refresh token at logout.
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true }, revocation: { enabled: true } },
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  // Dev: every login of a client allowed refresh tokens gets one (the edge renews sessions).
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: { AccessToken: accessTtl, IdToken: 3600, AuthorizationCode: 60, Grant: 86400, Session: 86400, Interaction: 600, RefreshToken: 86400 },
  cookies: { keys: ['verge-dev-cookie-key'] },
  // Dev only: the first-party client's consent is implied, so the login is one form.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile offline_access');
    await grant.save();
    return grant;
  },
});
const readJson = async (req) => {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 4096) throw new Error('too long');
  }
  return JSON.parse(text);
};
provider.use(async (ctx, next) => {
  const m = /^\/dev\/accounts\/([^/]+)\/(disable|groups)$/.exec(ctx.path);
  if (!m || ctx.method !== (m[2] === 'disable' ? 'POST' : 'PUT')) return next();
  if (ctx.get('authorization') !== `Bearer ${secret}`) {
    ctx.status = 401;
    return undefined;
  }
  const sub = decodeURIComponent(m[1]);
  if (m[2] === 'disable') {
    disabled.add(sub);
  } else {
    const list = await readJson(ctx.req).catch(() => null);
    if (!Array.isArray(list) || !list.every((g) => typeof g === 'string')) {
      ctx.status = 400;
      return undefined;
    }
    groups.set(sub, list);
  }
  ctx.status = 204;
  return undefined;
});
provider.on('server_error', (_ctx, err) => console.error('idp server_error', err));
provider.listen(port, '127.0.0.1', () => console.log(`idp ${issuer}`));
