// Verify a batch of tokens with Node's JOSE clients, each against its JWKS URI.
//
// stdin:  {"cases": [{"id": "...", "token": "...", "jwksUri": "http://..."}]}
// stdout: {"versions": {...}, "results": {"<client>": {"<id>": verdict}}}
// where a verdict is {"ok": true, "payload": {...}, "header": {...}}
// or {"ok": false, "error": "<class name>", "code": "<code or null>", "message": "..."}.
//
// Clients:
//   original: the article's decoder ring, line for line: jsonwebtoken.decode
//             with {complete: true, json: true}, jwks-rsa getSigningKey(kid),
//             key.getPublicKey(), jsonwebtoken.verify(token, signingKey).
//   jose:     panva jose, createRemoteJWKSet(url) + jwtVerify(token, JWKS).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import * as jose from "jose";
import jsonwebtoken from "jsonwebtoken";
import jwksRsa from "jwks-rsa";

const require = createRequire(import.meta.url);

function version(name) {
  return require(`${name}/package.json`).version;
}

function failure(error) {
  return {
    ok: false,
    error: error?.constructor?.name ?? typeof error,
    code: error?.code ?? null,
    message: String(error?.message ?? error),
  };
}

function perUri(make) {
  const clients = new Map();
  return (uri) => {
    if (!clients.has(uri)) clients.set(uri, make(uri));
    return clients.get(uri);
  };
}

// The article's verifyToken(client, token), with its getSigningKey helper inlined.
async function original(client, token) {
  const decoded = jsonwebtoken.decode(token, { complete: true, json: true });
  if (!decoded || !decoded.header.kid) {
    throw new Error("Token has no Key ID");
  }
  const key = await client.getSigningKey(decoded.header.kid);
  const signingKey = key.getPublicKey();
  if (!signingKey) {
    throw new Error("Unauthorized");
  }
  return { payload: jsonwebtoken.verify(token, signingKey), header: decoded.header };
}

async function withJose(jwks, token) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks);
  return { payload, header: protectedHeader };
}

const CLIENTS = {
  original: {
    client: perUri((uri) => jwksRsa({ jwksUri: uri, cache: true, rateLimit: false, timeout: 5000 })),
    verify: original,
  },
  jose: {
    client: perUri((uri) => jose.createRemoteJWKSet(new URL(uri), { timeoutDuration: 5000 })),
    verify: withJose,
  },
};

const request = JSON.parse(readFileSync(0, "utf8"));
const results = {};
for (const [name, { client, verify }] of Object.entries(CLIENTS)) {
  results[name] = {};
  for (const { id, token, jwksUri } of request.cases) {
    try {
      results[name][id] = { ok: true, ...(await verify(client(jwksUri), token)) };
    } catch (error) {
      results[name][id] = failure(error);
    }
  }
}
const versions = Object.fromEntries(
  ["jsonwebtoken", "jwks-rsa", "jose"].map((name) => [name, version(name)]),
);
process.stdout.write(JSON.stringify({ versions, results }));
