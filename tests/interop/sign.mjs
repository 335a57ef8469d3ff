// Issue tokens with Node's JOSE libraries, one fresh key per producer and algorithm.
//
// stdin:  {"jobs": [{"id": "...", "producer": "node-jose" | "jose", "alg": "RS256", "claims": {...}}]}
// stdout: {"versions": {...}, "issued": {"<id>": {"token", "jwks"} or {"error": {"error", "message"}}}}
//
// Producers:
//   node-jose: the article's JWKS generator and encoder ring, line for line:
//              JWK.createKeyStore().generate(kty, size, {alg, use: "sig"}), the
//              private key kept as key.toJSON(true) and read back with
//              JWK.asKey, the JWKS {keys: [key.toJSON()]}, and
//              JWS.createSign({compact: true, fields: {typ: "jwt"}}, key)
//              .update(JSON.stringify(payload)).final().
//   jose:      panva jose, generateKeyPair + SignJWT, kid the RFC 7638 thumbprint.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import * as jose from "jose";
import nodeJose from "node-jose";

const require = createRequire(import.meta.url);
const { JWK, JWS } = nodeJose;

// kty and size (or curve) for node-jose's keystore.generate.
const NODE_JOSE_KEYS = {
  RS256: ["RSA", 2048],
  RS384: ["RSA", 2048],
  RS512: ["RSA", 2048],
  PS256: ["RSA", 2048],
  PS384: ["RSA", 2048],
  PS512: ["RSA", 2048],
  ES256: ["EC", "P-256"],
  ES384: ["EC", "P-384"],
  ES512: ["EC", "P-521"],
  EdDSA: ["OKP", "Ed25519"],
};

async function withNodeJose(alg, claims) {
  const keyStore = JWK.createKeyStore();
  const [kty, size] = NODE_JOSE_KEYS[alg];
  const generated = await keyStore.generate(kty, size, { alg, use: "sig" });
  const secret = generated.toJSON(true); // what the generator stored in Secrets Manager
  const publicKey = generated.toJSON(); // what it stored in S3 as jwks.json
  const key = await JWK.asKey(secret); // what the encoder ring read back
  const signOptions = { compact: true, fields: { typ: "jwt" } };
  const token = (await JWS.createSign(signOptions, key).update(JSON.stringify(claims)).final()).toString();
  return { token, jwks: { keys: [publicKey] } };
}

async function withJose(alg, claims) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  const kid = await jose.calculateJwkThumbprint(jwk);
  const token = await new jose.SignJWT(claims).setProtectedHeader({ alg, kid, typ: "JWT" }).sign(privateKey);
  return { token, jwks: { keys: [{ ...jwk, kid, alg, use: "sig" }] } };
}

const PRODUCERS = { "node-jose": withNodeJose, jose: withJose };

const request = JSON.parse(readFileSync(0, "utf8"));
const issued = {};
for (const { id, producer, alg, claims } of request.jobs) {
  try {
    issued[id] = await PRODUCERS[producer](alg, claims);
  } catch (error) {
    issued[id] = { error: { error: error?.constructor?.name ?? typeof error, message: String(error?.message ?? error) } };
  }
}
const versions = Object.fromEntries(["node-jose", "jose"].map((name) => [name, require(`${name}/package.json`).version]));
process.stdout.write(JSON.stringify({ versions, issued }));
