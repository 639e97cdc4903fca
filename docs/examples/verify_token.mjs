#!/usr/bin/env node
// Verifies a zt audience token: a short-lived JWT the zt broker mints for one service.
//
// Copy this file into your service, or use `verifyZtToken` from it. It needs Node 18.3+
// and the `jose` package (npm install jose), and nothing else.
//
// Usage
//   node verify_token.mjs --jwks-uri https://BROKER/v1/jwks --issuer https://BROKER \
//       --audience YOUR-SERVICE [--max-age SECONDS] < token.txt
//
// The token is read from stdin, never from the command line (argv is visible to every
// user on the machine, and lands in shell history).
//
// Exit status and output
//   0  verified: the token's claims as one line of JSON on stdout
//   1  refused (bad signature, wrong issuer or audience, expired, not ES256, no such key,
//      keys unreachable, ...): `verify_token: refused: CODE: reason` on stderr
//   2  usage error, or `jose` not found: the reason on stderr
//
// Finding `jose`: the script first imports it the normal ESM way (a node_modules next to
// the script or above it). ES modules ignore NODE_PATH, so if that fails it resolves
// `jose` through CommonJS resolution, which honours NODE_PATH, and imports the file found:
//   NODE_PATH=/path/to/node_modules node verify_token.mjs ...
//
// What is checked (see README.md next to this file)
//   - alg is ES256 and nothing else (no RS256, no HS256 with the public key as secret,
//     no `none`); the header's `typ` is `JWT` (zt's own access tokens are `at+jwt` and are
//     refused here);
//   - the signature, with the key named by `kid` from the broker's JWK set; an unknown
//     `kid` makes it refetch the set once (keys rotate: old and new are published together);
//   - iss equals --issuer exactly, aud contains --audience;
//   - exp, nbf and iat are present and hold now, with 30 s of clock tolerance; with
//     --max-age, iat is at most that many seconds ago;
//   - sub and jti are present.

import { createRequire } from 'node:module';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Clock skew accepted on exp, nbf and iat, in seconds. */
export const CLOCK_TOLERANCE_SECS = 30;

/** The largest token read from stdin; zt's tokens are well under 2 KiB. */
const MAX_TOKEN_BYTES = 16 * 1024;

async function loadJose() {
  try {
    return await import('jose');
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
  let path;
  try {
    path = createRequire(import.meta.url).resolve('jose');
  } catch {
    process.stderr.write(
      'verify_token: cannot find the `jose` package: `npm install jose`, or set NODE_PATH '
      + 'to a node_modules directory that holds it\n',
    );
    process.exit(2);
  }
  return import(pathToFileURL(path).href);
}

const jose = await loadJose();

/**
 * The broker's key set. Create it once per process and reuse it: it caches the keys
 * (10 min) and refetches on an unknown `kid` (at most every 30 s).
 */
export function ztKeySet(jwksUri) {
  return jose.createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 5000 });
}

/**
 * Verifies `token` and returns its claims, or throws a jose error (`err.code` says why).
 * `maxAge` (seconds) additionally bounds the time since `iat`.
 */
export async function verifyZtToken(token, { keySet, issuer, audience, maxAge }) {
  const { payload } = await jose.jwtVerify(token, keySet, {
    algorithms: ['ES256'],
    typ: 'JWT',
    issuer,
    audience,
    requiredClaims: ['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'jti'],
    clockTolerance: CLOCK_TOLERANCE_SECS,
    ...(maxAge === undefined ? {} : { maxTokenAge: maxAge }),
  });
  return payload;
}

class UsageError extends Error {}

function parseCommandLine(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'jwks-uri': { type: 'string' },
        issuer: { type: 'string' },
        audience: { type: 'string' },
        'max-age': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${err.message} (the token goes on stdin, not the command line)`);
  }
  for (const name of ['jwks-uri', 'issuer', 'audience']) {
    if (!values[name]) throw new UsageError(`--${name} is required`);
  }
  let maxAge;
  if (values['max-age'] !== undefined) {
    maxAge = Number(values['max-age']);
    if (!Number.isSafeInteger(maxAge) || maxAge <= 0) {
      throw new UsageError(`--max-age must be a positive number of seconds, got ${values['max-age']}`);
    }
  }
  try {
    new URL(values['jwks-uri']);
  } catch {
    throw new UsageError(`--jwks-uri is not a URL: ${values['jwks-uri']}`);
  }
  return {
    jwksUri: values['jwks-uri'],
    issuer: values.issuer,
    audience: values.audience,
    maxAge,
  };
}

async function readToken() {
  if (process.stdin.isTTY) throw new UsageError('pipe the token on stdin');
  const chunks = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += chunk.length;
    if (size > MAX_TOKEN_BYTES) throw new UsageError(`the token is larger than ${MAX_TOKEN_BYTES} bytes`);
    chunks.push(chunk);
  }
  const token = Buffer.concat(chunks).toString('utf8').trim();
  if (!token) throw new UsageError('no token on stdin');
  return token;
}

async function main() {
  let options;
  let token;
  try {
    options = parseCommandLine(process.argv.slice(2));
    token = await readToken();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`verify_token: ${err.message}\n`);
    return 2;
  }
  try {
    const claims = await verifyZtToken(token, { keySet: ztKeySet(options.jwksUri), ...options });
    process.stdout.write(`${JSON.stringify(claims)}\n`);
    return 0;
  } catch (err) {
    // jose's errors carry a stable code (ERR_JWT_EXPIRED, ERR_JOSE_ALG_NOT_ALLOWED, ...);
    // anything else (a network failure) is reported by its message.
    process.stderr.write(`verify_token: refused: ${err.code ?? err.name}: ${err.message}\n`);
    return 1;
  }
}

// Run only as a script, not when a service imports verifyZtToken from this file.
const invoked = process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href;
if (invoked === import.meta.url) {
  process.exitCode = await main();
}
