// The decoder: shows header, claims and times as you type; asks the service for the verdict.

import { postJson } from "./api.js";
import { DecodeError, decodeToken } from "./jwt.js";
import { el, fill, jsonNodes } from "./render.js";
import { TIME_CLAIMS, describe, utc } from "./times.js";

const VERIFY_DELAY_MS = 250;
const TIMES_REFRESH_MS = 15000;

/**
 * Wire the decoder section. `onVerified(kid)` is told which key signed the
 * token last verified against this service's keys (null when none).
 * Returns {load(token)} to put a token in from elsewhere on the page.
 */
export function createDecoder({ onVerified }) {
  const form = document.getElementById("decode-form");
  const input = document.getElementById("token");
  const jwksUri = document.getElementById("jwks-uri");
  const audience = document.getElementById("audience");
  const issuer = document.getElementById("issuer");
  const verdict = document.getElementById("verdict");
  const headerView = document.getElementById("header-json");
  const claimsView = document.getElementById("claims-json");
  const timesView = document.getElementById("times");
  let decoded = null;
  let sequence = 0;
  let timer = 0;

  function currentToken() {
    return input.value.replace(/\s+/g, "").replace(/^Bearer(?=ey)/i, "");
  }

  function showDecoded() {
    const token = currentToken();
    decoded = null;
    if (!token) {
      fill(headerView, placeholder("—"));
      fill(claimsView, placeholder("—"));
      fill(timesView, el("div", { class: "times-row placeholder" }, "No time claims."));
      return;
    }
    try {
      decoded = decodeToken(token);
    } catch (error) {
      if (!(error instanceof DecodeError)) {
        throw error;
      }
      fill(headerView, el("span", { class: "decode-error" }, `Cannot decode: ${error.message}`));
      fill(claimsView, placeholder("—"));
      fill(timesView, el("div", { class: "times-row placeholder" }, "No time claims."));
      return;
    }
    fill(headerView, ...jsonNodes(decoded.header));
    fill(claimsView, ...jsonNodes(decoded.claims));
    showTimes();
  }

  function showTimes() {
    if (decoded === null) {
      return;
    }
    const rows = TIME_CLAIMS.filter((name) => name in decoded.claims).map((name) =>
      timeRow(name, decoded.claims[name]),
    );
    fill(timesView, ...(rows.length ? rows : [el("div", { class: "times-row placeholder" }, "No time claims.")]));
  }

  function setVerdict(state, title, ...detail) {
    verdict.dataset.state = state;
    fill(verdict, el("p", { class: "verdict-title" }, title), el("p", { class: "verdict-detail" }, ...detail));
  }

  async function verify() {
    window.clearTimeout(timer);
    const token = currentToken();
    const mine = ++sequence;
    if (!token) {
      setVerdict("idle", "No token yet", "Paste a token to see its verdict.");
      onVerified(null);
      return;
    }
    const uri = jwksUri.value.trim();
    const body = { token };
    if (uri) body.jwksUri = uri;
    if (audience.value.trim()) body.audience = audience.value.trim();
    if (issuer.value.trim()) body.issuer = issuer.value.trim();
    setVerdict("pending", "Verifying…", "Asking the service.");
    const answer = await postJson("/decode", body);
    if (mine !== sequence) {
      return;
    }
    const against = uri ? `the JWKS at ${uri}` : "this service's keys";
    if (answer.ok) {
      const header = decoded ? decoded.header : {};
      setVerdict(
        "verified",
        "Signature verified",
        "Key ",
        el("code", { class: "verdict-kid" }, String(header.kid ?? "?")),
        " · algorithm ",
        el("code", { class: "verdict-alg" }, String(header.alg ?? "?")),
        ` · against ${against}.`,
      );
      onVerified(uri ? null : (header.kid ?? null));
      return;
    }
    const { status, code, detail } = answer.problem;
    const title = status === 401 ? "Token refused" : "Could not verify";
    setVerdict(
      status === 401 ? "refused" : "error",
      title,
      el("code", { class: "verdict-code" }, code),
      detail ? ` ${detail}` : "",
    );
    onVerified(null);
  }

  function scheduleVerify() {
    window.clearTimeout(timer);
    timer = window.setTimeout(verify, VERIFY_DELAY_MS);
  }

  input.addEventListener("input", () => {
    showDecoded();
    scheduleVerify();
  });
  for (const option of [jwksUri, audience, issuer]) {
    option.addEventListener("change", () => {
      if (currentToken()) verify();
    });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    showDecoded();
    verify();
  });
  document.getElementById("clear-token").addEventListener("click", () => {
    input.value = "";
    showDecoded();
    verify();
    input.focus();
  });
  window.setInterval(showTimes, TIMES_REFRESH_MS);

  return {
    load(token) {
      input.value = token;
      showDecoded();
      verify();
      document.getElementById("decoder").scrollIntoView({ block: "start" });
      input.focus({ preventScroll: true });
    },
  };
}

function placeholder(text) {
  return el("span", { class: "placeholder" }, text);
}

function timeRow(name, value) {
  const when = typeof value === "number" ? utc(value) : null;
  const parts = [el("dt", {}, el("code", {}, name))];
  if (when === null) {
    parts.push(el("dd", { class: "times-warning" }, `${JSON.stringify(value)}: not a number of seconds`));
  } else {
    parts.push(
      el("dd", { class: "times-human" }, describe(name, value)),
      el("dd", { class: "times-raw" }, el("span", { class: "mono" }, String(value)), " · ", when),
    );
  }
  return el("div", { class: "times-row", "data-claim": name }, ...parts);
}
