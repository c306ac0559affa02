// A real OpenID Connect provider for the dashboard's sign-in tests: panva/oidc-provider (an
// OpenID-certified OP library) with one confidential client, fixed users whose passwords are
// checked, a `groups` claim in the ID token, and our own login and logout pages (no external
// assets). Started and stopped by tests/oidc/harness.py on 127.0.0.1.
//
// Prints "OIDC_READY <issuer>" when it serves. Settings (environment):
//   OIDC_PORT           port on 127.0.0.1 (0: a free one, in the issuer)
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET
//   OIDC_REDIRECT_URIS  comma-separated; also the post-logout redirect URIs (Streamlit sends
//                       its /oauth2callback as post_logout_redirect_uri)
//   OIDC_USERS_FILE     JSON {"login": {"password", "name", "email", "groups": [...]}, ...}
import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const HOST = '127.0.0.1';
const CLIENT_ID = process.env.OIDC_CLIENT_ID || 'dashboard';
const CLIENT_SECRET = process.env.OIDC_CLIENT_SECRET || 'dashboard-secret';
const REDIRECT_URIS = (process.env.OIDC_REDIRECT_URIS || '').split(',').filter(Boolean);
const USERS = JSON.parse(readFileSync(process.env.OIDC_USERS_FILE, 'utf8'));

const sha = (s) => createHash('sha256').update(String(s)).digest();
function checkPassword(login, password) {
  const user = Object.hasOwn(USERS, login) ? USERS[login] : undefined;
  // digests compared in constant time; an unknown login costs the same
  const ok = timingSafeEqual(sha(user ? user.password : randomBytes(16)), sha(password ?? ''));
  return user && ok ? login : undefined;
}

const claimsOf = (id) => ({
  sub: id,
  name: USERS[id].name,
  preferred_username: id,
  email: USERS[id].email,
  email_verified: true,
  groups: USERS[id].groups || [],
});

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8">
<title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }); // per process
const configuration = {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: REDIRECT_URIS,
    post_logout_redirect_uris: REDIRECT_URIS,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic', // Authlib's default
    require_auth_time: true, // the e-signature checks that the sign-in is fresh
  }],
  claims: {
    openid: ['sub', 'acr', 'amr'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // Streamlit builds st.user from the ID token only: the scope claims must be in it.
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    if (!Object.hasOwn(USERS, id)) return undefined;
    return { accountId: id, async claims() { return claimsOf(id); } };
  },
  interactions: { url(ctx, interaction) { return `/interaction/${interaction.uid}`; } },
  // A first-party client: the requested scopes are granted without a consent page.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    grant.addOIDCClaims(Object.values(configuration.claims).flat());
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: false }, // they accept any password: our login page checks it
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out', `${form}<button id="logout-yes" type="submit"
          form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>`);
      },
      async postLogoutSuccessSource(ctx) { ctx.body = page('Signed out', '<p>Signed out.</p>'); },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<pre id="error">${esc(JSON.stringify(out))}</pre>`);
  },
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'test' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true }, // Streamlit sends S256 PKCE: a regression would show
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600,
    Grant: 3600 },
};

const server = createServer();
await new Promise((ok, fail) => {
  server.once('error', fail);
  server.listen(Number(process.env.OIDC_PORT ?? 0), HOST, ok);
});
const issuer = `http://${HOST}:${server.address().port}`;
const provider = new Provider(issuer, configuration);

async function formBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

// The login interaction: a form, the password checked, a retry on the same interaction.
provider.use(async (ctx, next) => {
  const m = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!m) return next();
  ctx.set('cache-control', 'no-store');
  try {
    const { uid, prompt } = await provider.interactionDetails(ctx.req, ctx.res);
    if (prompt.name !== 'login') ctx.throw(400, `unexpected prompt ${prompt.name}`);
    if (ctx.method === 'GET' && !m[2]) {
      ctx.type = 'html';
      ctx.body = page('Sign in', `
<form id="login-form" method="post" action="/interaction/${uid}/login" autocomplete="off">
  <label>Username <input id="username" name="login" required></label>
  <label>Password <input id="password" name="password" type="password" required></label>
  <button id="sign-in" type="submit">Sign in</button>
</form>
${ctx.query.error ? '<p id="login-error">Invalid username or password</p>' : ''}
<p id="prompt-reasons">${esc(prompt.reasons.join(','))}</p>`);
      return undefined;
    }
    if (ctx.method === 'POST' && m[2]) {
      const body = await formBody(ctx.req);
      const accountId = checkPassword(body.login, body.password);
      if (!accountId) {
        ctx.status = 303;
        ctx.redirect(`/interaction/${uid}?error=1`);
        return undefined;
      }
      return provider.interactionFinished(ctx.req, ctx.res, {
        login: { accountId, amr: ['pwd'], acr: 'urn:safety-test:pwd' },
      }, { mergeWithLastSubmission: false });
    }
    return ctx.throw(405);
  } catch (err) {
    if (!(err instanceof errors.SessionNotFound)) throw err;
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Error', '<p id="error">interaction session not found</p>');
    return undefined;
  }
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));
server.on('request', provider.callback());
console.log(`OIDC_READY ${issuer}`);

const stop = () => { server.closeAllConnections(); process.exit(0); }; // state is in memory
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
