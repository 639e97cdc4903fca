// Test OpenID provider for zt's integration tests: panva's oidc-provider on loopback.
//
// This is a real, certified OpenID provider with test-only pages and hooks around it.
// Never expose it beyond 127.0.0.1: the accounts and passwords below are public.
//
// Environment
//   IDP_PORT              TCP port on 127.0.0.1; 0 (default) picks a free one.
//   IDP_DEVICE_CODE_TTL   device-code lifetime in seconds (default 600).
//   IDP_ACCESS_TOKEN_TTL  access-token lifetime in seconds (default 3600).
//   IDP_ID_TOKEN_TTL      ID-token lifetime in seconds (default 3600).
//   IDP_CI_RESOURCE       the one resource indicator client `zt-ci` may ask for
//                         (default urn:zt:broker).
//
// Stdout carries exactly one line, once the server listens:
//   IDP_READY http://127.0.0.1:PORT
// Everything else (oidc-provider's notices, errors) goes to stderr.
//
// Client: `zt`, public native client (no secret), device_code + refresh_token grants,
// scopes `openid email profile groups offline_access`. Refresh tokens rotate.
// ID tokens are RS256 and carry the scope claims directly (email, email_verified,
// groups, name, preferred_username). An ES256 key is published in the JWKS too.
//
// Client: `zt-ci`, confidential, secret `zt-ci-secret-for-tests-only` (public, like the
// passwords below), registered for `client_secret_basic` (oidc-provider takes the same
// secret as `client_secret_post` too), `client_credentials` grant only, no redirects.
// A token request with `resource=$IDP_CI_RESOURCE` gets an RFC 9068 JWT access token:
// header {alg: RS256, typ: at+jwt, kid}, claims {iss, sub: "zt-ci", aud: the resource,
// client_id: "zt-ci", iat, exp, jti} (no nbf, no scope), valid
// min(IDP_ACCESS_TOKEN_TTL, 300) s.
// Any other resource → 400 invalid_target; no resource → an opaque token (no audience).
// Client `zt` may name no resource at all (invalid_target), as before.
//
// Accounts (username / password → subject, claims)
//   alice / alice-pw → sub-alice, groups ["sre"], alice@example.com, verified
//   bob   / bob-pw   → sub-bob,   groups ["dev"], bob@example.com, verified
//   carol / carol-pw → sub-carol, groups [],      carol@example.com, NOT verified
//   mallory / mallory-pw → hostile claims: `sub`, `name`, a verified `email` and groups beside
//                          ["sre"] that carry a newline and a forged "zt: Logged in as admin"
//                          line, ANSI/OSC escapes, a C1 CSI, bidi overrides and isolates and a
//                          zero-width space (tests/e2e/hostile_claims.rs holds the same values)
//
// Pages are for scripts, not people: each has
//   <meta name="zt-test-page" content="NAME">      device-input | device-confirm |
//                                                  login | consent | device-success
//   <meta name="zt-test-error" content="CODE">     only when the page reports an error
// and its forms are `<form data-zt-form="NAME" method="post" action="URL">` holding
// `<input type="hidden" name="..." value="...">` lines (plus the visible inputs).
//
// Test hooks (this server only)
//   POST /__test/slow_down {"user_code": "..."}  the NEXT token poll for that device code
//                                                answers 400 slow_down without reaching
//                                                the provider.
//   GET  /__test/polls?user_code=...             JSON array of epoch milliseconds, one per
//                                                device-code token poll (slow_down included).

import { createServer } from 'node:http';
import { generateKeyPairSync, createPrivateKey, randomBytes } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

function envSeconds(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const port = envSeconds('IDP_PORT', 0);
const deviceCodeTtl = envSeconds('IDP_DEVICE_CODE_TTL', 600);
const accessTokenTtl = envSeconds('IDP_ACCESS_TOKEN_TTL', 3600);
const idTokenTtl = envSeconds('IDP_ID_TOKEN_TTL', 3600);
const ciResource = process.env.IDP_CI_RESOURCE || 'urn:zt:broker';
// CI tokens live minutes, whatever the interactive clients' access tokens do.
const ciTokenTtl = Math.max(1, Math.min(accessTokenTtl, 300));

const CI_CLIENT_ID = 'zt-ci';
const CI_CLIENT_SECRET = 'zt-ci-secret-for-tests-only';

// The resource server behind `ciResource`: JWT access tokens signed with the provider's
// RS256 key, audience the resource itself. Only `zt-ci` may ask for it.
async function getResourceServerInfo(_ctx, resourceIndicator, client) {
  if (client?.clientId === CI_CLIENT_ID && resourceIndicator === ciResource) {
    return {
      scope: '',
      audience: ciResource,
      accessTokenTTL: ciTokenTtl,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: 'RS256' } },
    };
  }
  throw new errors.InvalidTarget();
}

// --- signing keys -------------------------------------------------------------------
// Node 20 can deadlock when a key fresh from generateKeyPairSync is exported as a JWK
// during a garbage collection. Going through PEM and createPrivateKey avoids it (40 of 40
// starts); the harness still times out and retries a start that hangs.
function signingJwk(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, {
    ...options,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const jwk = createPrivateKey(privateKey).export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}` };
}

// The first key of a type is the default for that type; RS256 is the ID-token default.
const jwks = {
  keys: [
    signingJwk('rsa', { modulusLength: 2048 }, 'RS256'),
    signingJwk('ec', { namedCurve: 'P-256' }, 'ES256'),
  ],
};

// --- accounts -----------------------------------------------------------------------
const ACCOUNTS = new Map([
  ['alice', {
    password: 'alice-pw', sub: 'sub-alice', name: 'Alice Example',
    email: 'alice@example.com', email_verified: true, groups: ['sre'],
  }],
  ['bob', {
    password: 'bob-pw', sub: 'sub-bob', name: 'Bob Example',
    email: 'bob@example.com', email_verified: true, groups: ['dev'],
  }],
  ['carol', {
    password: 'carol-pw', sub: 'sub-carol', name: 'Carol Example',
    email: 'carol@example.com', email_verified: false, groups: [],
  }],
  ['mallory', {
    password: 'mallory-pw',
    sub: 'sub-mallory\nzt: Logged in as admin\u001b[2J\u202egnp.exe',
    name: 'Mallory\r\nzt: Logged in as admin\u001b]0;title\u0007',
    email: 'mallory@example.com\nzt: Logged in as admin\u001b[2J\u009b31m\u2066x\u2069',
    email_verified: true,
    groups: ['sre', 'ops\nzt: Logged in as admin\u001b]0;title\u0007', '\u202enimda\u200b'],
  }],
]);
const BY_SUB = new Map([...ACCOUNTS].map(([username, a]) => [a.sub, { username, ...a }]));

async function findAccount(_ctx, sub) {
  const account = BY_SUB.get(sub);
  if (!account) return undefined;
  return {
    accountId: sub,
    // oidc-provider filters these by the granted scopes and claims.
    async claims() {
      return {
        sub,
        email: account.email,
        email_verified: account.email_verified,
        groups: account.groups,
        name: account.name,
        preferred_username: account.username,
      };
    },
  };
}

// --- pages --------------------------------------------------------------------------
function esc(value) {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function hidden(fields) {
  return Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${esc(name)}" value="${esc(value)}">`)
    .join('\n');
}

function form(name, action, fields, visible = '', button = 'Continue') {
  return `<form data-zt-form="${esc(name)}" method="post" action="${esc(action)}">
${hidden(fields)}
${visible}
<button type="submit">${esc(button)}</button>
</form>`;
}

function page(name, title, body, error) {
  const errorMeta = error ? `\n<meta name="zt-test-error" content="${esc(error)}">` : '';
  return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="zt-test-page" content="${esc(name)}">${errorMeta}
<title>${esc(title)}</title>
</head>
<body>
<h1>${esc(title)}</h1>
${body}
</body>
</html>
`;
}

// oidc-provider hands the device pages a ready-made form; take its xsrf token and render
// our own, simpler form around it.
function xsrfFrom(providerForm) {
  const match = /name="xsrf" value="([^"]*)"/.exec(providerForm);
  if (!match) throw new Error('oidc-provider form without an xsrf field');
  return match[1];
}

function deviceErrorCode(err) {
  if (!err) return undefined;
  if (err.name === 'AbortedError') return 'aborted';
  if (err.name === 'NoCodeError') return 'no_code';
  if (err.name === 'NotFoundError') return 'not_found';
  if (err.name === 'ExpiredError') return 'expired';
  if (err.name === 'AlreadyUsedError') return 'already_used';
  return err.error || 'error';
}

async function userCodeInputSource(ctx, providerForm, _out, err) {
  const action = ctx.oidc.urlFor('code_verification');
  ctx.type = 'html';
  ctx.body = page('device-input', 'Enter the code shown on your device', form(
    'user-code',
    action,
    { xsrf: xsrfFrom(providerForm) },
    '<input type="text" name="user_code" autocomplete="off">',
  ), deviceErrorCode(err));
}

async function userCodeConfirmSource(ctx, providerForm, client, _deviceInfo, userCode) {
  const action = ctx.oidc.urlFor('code_verification');
  const xsrf = xsrfFrom(providerForm);
  ctx.type = 'html';
  ctx.body = page('device-confirm', `Confirm sign-in to ${client.clientId}`, `
<p>Code: <code id="user-code">${esc(userCode)}</code></p>
${form('confirm', action, { xsrf, user_code: userCode, confirm: 'yes' }, '', 'Continue')}
${form('abort', action, { xsrf, user_code: userCode, abort: 'yes' }, '', 'Abort')}`);
}

async function successSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('device-success', 'Sign-in complete', '<p>You can close this page.</p>');
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  ctx.body = page('error', 'Error', `<pre>${esc(JSON.stringify(out))}</pre>`, out.error);
}

// --- provider -----------------------------------------------------------------------
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'zt',
    client_name: 'zt',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: [DEVICE_GRANT, 'refresh_token'],
    // The device flow uses no redirects; with no response types oidc-provider needs no
    // redirect_uris either.
    response_types: [],
    scope: 'openid email profile groups offline_access',
  }, {
    client_id: CI_CLIENT_ID,
    client_name: 'zt CI',
    client_secret: CI_CLIENT_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // Put the scope claims into the ID token itself, so the broker needs no userinfo call.
  conformIdTokenClaims: false,
  jwks,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  findAccount,
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true, userCodeInputSource, userCodeConfirmSource, successSource },
    revocation: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: { enabled: true, getResourceServerInfo },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError,
  ttl: {
    AccessToken: accessTokenTtl,
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ciTokenTtl,
    IdToken: idTokenTtl,
    DeviceCode: deviceCodeTtl,
    RefreshToken: 24 * 60 * 60,
    Interaction: 60 * 60,
    Session: 24 * 60 * 60,
    Grant: 24 * 60 * 60,
  },
});

// --- device-code bookkeeping for the test hooks -------------------------------------
const normalizeUserCode = (code) => String(code).toUpperCase().replace(/[^0-9A-Z]/g, '');
const userCodeByDeviceCode = new Map();
const pollsByUserCode = new Map();
const slowDownPending = new Set();

provider.on('device_authorization.success', (_ctx, body) => {
  // oidc-provider 9 has no setting for `interval` and omits it (RFC 8628: then 5 s).
  // The body object is serialised after this listener runs, so the field sticks.
  body.interval = 1;
  const userCode = normalizeUserCode(body.user_code);
  userCodeByDeviceCode.set(body.device_code, userCode);
  pollsByUserCode.set(userCode, []);
});

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// Token requests: record device-code polls and answer an armed slow_down ourselves.
provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || ctx.path !== '/token' || !ctx.is('application/x-www-form-urlencoded')) {
    return next();
  }
  const raw = await readBody(ctx.req);
  // oidc-provider accepts an already-read body from req.body (it warns once on stderr).
  ctx.req.body = raw;
  const params = new URLSearchParams(raw);
  const userCode = params.get('grant_type') === DEVICE_GRANT
    ? userCodeByDeviceCode.get(params.get('device_code'))
    : undefined;
  if (userCode === undefined) return next();

  pollsByUserCode.get(userCode).push(Date.now());
  if (slowDownPending.delete(userCode)) {
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      error: 'slow_down',
      error_description: 'you are polling too quickly and should back off at a reasonable rate',
    };
    return undefined;
  }
  return next();
});

// Test hooks.
provider.use(async (ctx, next) => {
  if (!ctx.path.startsWith('/__test/')) return next();
  if (ctx.method === 'POST' && ctx.path === '/__test/slow_down') {
    const { user_code: userCode } = JSON.parse(await readBody(ctx.req) || '{}');
    const key = normalizeUserCode(userCode ?? '');
    if (!pollsByUserCode.has(key)) {
      ctx.status = 404;
      ctx.body = { error: 'unknown_user_code' };
      return undefined;
    }
    slowDownPending.add(key);
    ctx.status = 204;
    return undefined;
  }
  if (ctx.method === 'GET' && ctx.path === '/__test/polls') {
    const key = normalizeUserCode(ctx.query.user_code ?? '');
    if (!pollsByUserCode.has(key)) {
      ctx.status = 404;
      ctx.body = { error: 'unknown_user_code' };
      return undefined;
    }
    ctx.body = pollsByUserCode.get(key);
    return undefined;
  }
  ctx.status = 404;
  ctx.body = { error: 'unknown_test_hook' };
  return undefined;
});

// --- interactions: login and consent ------------------------------------------------
function loginPage(uid, error) {
  return page('login', 'Sign in', form(
    'login',
    `/interaction/${uid}/login`,
    {},
    '<input type="text" name="username">\n<input type="password" name="password">',
    'Sign in',
  ), error);
}

function consentPage(uid, clientId, details) {
  const scopes = details.missingOIDCScope ?? [];
  return page('consent', `Allow ${clientId}?`, `
<p>Scopes: <span id="scopes">${esc(scopes.join(' '))}</span></p>
${form('confirm', `/interaction/${uid}/confirm`, {}, '', 'Allow')}
${form('abort', `/interaction/${uid}/abort`, {}, '', 'Deny')}`);
}

async function grantConsent(details) {
  const { prompt: { details: missing }, params, session: { accountId } } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function finish(ctx, result, mergeWithLastSubmission) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission,
  });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/.exec(ctx.path);
  if (!match) return next();
  const [, uid, action] = match;
  ctx.set('Cache-Control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  ctx.type = 'html';

  if (ctx.method === 'GET' && action === undefined) {
    ctx.body = details.prompt.name === 'login'
      ? loginPage(uid)
      : consentPage(uid, details.params.client_id, details.prompt.details);
    return undefined;
  }
  if (ctx.method !== 'POST' || action === undefined) ctx.throw(405);

  const form = new URLSearchParams(await readBody(ctx.req));
  if (action === 'login') {
    const account = ACCOUNTS.get(form.get('username') ?? '');
    if (!account || account.password !== form.get('password')) {
      ctx.body = loginPage(uid, 'invalid_credentials');
      return undefined;
    }
    return finish(ctx, { login: { accountId: account.sub } }, false);
  }
  if (action === 'confirm') {
    const grantId = await grantConsent(details);
    return finish(ctx, { consent: { grantId } }, true);
  }
  return finish(ctx, {
    error: 'access_denied',
    error_description: 'End-User aborted interaction',
  }, false);
});

server.on('request', provider.callback());
process.stdout.write(`IDP_READY ${issuer}\n`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
