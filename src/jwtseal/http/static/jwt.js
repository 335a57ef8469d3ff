// Decoding a compact JWS for display. Nothing here verifies: the service does.

const SEGMENT = /^[A-Za-z0-9_-]*$/;

export class DecodeError extends Error {}

/**
 * Split and decode a compact JWS into its header and claims.
 * Throws DecodeError with a sentence a person can act on.
 */
export function decodeToken(token) {
  const parts = token.split(".");
  if (parts.length !== 3) {
    throw new DecodeError(`A compact JWS has three segments separated by dots; this has ${parts.length}.`);
  }
  const [header, payload, signature] = parts;
  return {
    header: jsonSegment(header, "header"),
    claims: jsonSegment(payload, "payload"),
    signatureLength: segmentBytes(signature, "signature").length,
  };
}

function jsonSegment(segment, name) {
  const bytes = segmentBytes(segment, name);
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new DecodeError(`The ${name} is not UTF-8 text.`);
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DecodeError(`The ${name} is not JSON.`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new DecodeError(`The ${name} must be a JSON object.`);
  }
  return value;
}

function segmentBytes(segment, name) {
  if (!SEGMENT.test(segment) || segment.length % 4 === 1) {
    throw new DecodeError(`The ${name} is not base64url (letters, digits, "-" and "_", no padding).`);
  }
  const base64 = segment.replaceAll("-", "+").replaceAll("_", "/");
  const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "="));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
