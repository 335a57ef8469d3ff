// The original design (the article's three Lambdas) as one plain Node `http` server.
//
// GET  /.well-known/jwks.json  the public keys, as node-jose's keystore.toJSON()
// POST /encode                 node-jose signs {exp, iat, ...body} (the article's encoder ring)
// POST /decode                 jsonwebtoken + a shared, caching jwks-rsa client (the decoder ring)
//
// Written the way the article's author would write a server: keys made at
// start (the article made them once and served the JWKS as a static S3 file),
// one jwks-rsa client per JWKS URI, shared by every request.
//
// Settings: HOST, PORT, ALGORITHM (RS256 or ES256), TRUSTED_JWKS_URIS (comma-separated
// prefixes a /decode jwksUri must start with; the server's own JWKS is always allowed).
'use strict';

const http = require('node:http');
const { JWK, JWS } = require('node-jose');
const jwt = require('jsonwebtoken');
const jwksClient = require('jwks-rsa');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);
const ALGORITHM = process.env.ALGORITHM || 'RS256';
const OWN_JWKS_URI = `http://${HOST}:${PORT}/.well-known/jwks.json`;
const TRUSTED = (process.env.TRUSTED_JWKS_URIS || '').split(',').filter(Boolean);
const MAX_BODY = 65536;

const clients = new Map();

function clientFor(jwksUri) {
  let client = clients.get(jwksUri);
  if (!client) {
    client = jwksClient({ jwksUri, cache: true, cacheMaxEntries: 5, cacheMaxAge: 600000 });
    clients.set(jwksUri, client);
  }
  return client;
}

async function generateKey() {
  const keyStore = JWK.createKeyStore();
  const key =
    ALGORITHM === 'ES256'
      ? await keyStore.generate('EC', 'P-256', { alg: 'ES256', use: 'sig' })
      : await keyStore.generate('RSA', 2048, { alg: 'RS256', use: 'sig' });
  return { keyStore, key };
}

async function signToken(tokenPayload, key) {
  const signOptions = { compact: true, fields: { typ: 'jwt' } };
  const currentTime = Math.floor(Date.now() / 1000);
  const payload = {
    exp: currentTime + 86400, // 1 Day from now
    iat: currentTime,
    ...tokenPayload,
  };
  return (await JWS.createSign(signOptions, key).update(JSON.stringify(payload)).final()).toString();
}

async function verifyToken(client, token) {
  const decoded = jwt.decode(token, { complete: true, json: true });
  if (!decoded || !decoded.header.kid) {
    throw new HttpError(401, 'Token has no Key ID');
  }
  const key = await client.getSigningKey(decoded.header.kid);
  const signingKey = key.getPublicKey();
  if (!signingKey) {
    throw new HttpError(401, 'Unauthorized');
  }
  return jwt.verify(token, signingKey);
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'Payload too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'The body must be JSON'));
      }
    });
    req.on('error', reject);
  });
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function isTrusted(jwksUri) {
  return jwksUri === OWN_JWKS_URI || TRUSTED.some((prefix) => jwksUri.startsWith(prefix));
}

async function main() {
  const { keyStore, key } = await generateKey();
  const jwks = JSON.stringify(keyStore.toJSON());

  async function route(req, res) {
    if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(jwks) });
      res.end(jwks);
      return;
    }
    if (req.method === 'POST' && req.url === '/encode') {
      const body = await readJson(req);
      send(res, 200, { token: await signToken(body, key) });
      return;
    }
    if (req.method === 'POST' && req.url === '/decode') {
      const { token, jwksUri = OWN_JWKS_URI } = await readJson(req);
      if (typeof token !== 'string' || typeof jwksUri !== 'string') {
        throw new HttpError(400, 'token is required');
      }
      if (!isTrusted(jwksUri)) {
        throw new HttpError(400, 'jwksUri not allowed');
      }
      try {
        send(res, 200, await verifyToken(clientFor(jwksUri), token));
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(401, err.message);
      }
      return;
    }
    throw new HttpError(404, 'Not found');
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((err) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!res.headersSent) send(res, status, { error: err.message });
    });
  });
  server.listen(PORT, HOST, () => {
    console.log(`node peer (${ALGORITHM}) listening on http://${HOST}:${PORT}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
