// The issue form: claims validated as you type, POST /encode, copy or load the token.

import { postJson } from "./api.js";
import { el, fact, fill } from "./render.js";
import { describe, utc } from "./times.js";

const RESERVED = ["iss", "iat", "jti"];
const NUMERIC = ["exp", "nbf"];

/**
 * What the service would say of these claims, said before sending them:
 * {claims} when they can be sent, {error} otherwise.
 */
export function checkClaims(text) {
  if (!text.trim()) {
    return { error: "Enter a JSON object, for example {}." };
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: `Not valid JSON: ${error.message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const kind = Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
    return { error: `The claims must be a JSON object, not ${kind}.` };
  }
  const reserved = RESERVED.filter((name) => name in value);
  if (reserved.length) {
    const names = reserved.map((name) => `"${name}"`).join(", ");
    return { error: `The service sets ${names} itself; remove ${reserved.length === 1 ? "it" : "them"}.` };
  }
  const wrong = NUMERIC.find((name) => name in value && typeof value[name] !== "number");
  if (wrong) {
    return { error: `"${wrong}" must be a number of seconds since 1970.` };
  }
  return { claims: value };
}

/** Wire the issue section; `loadIntoDecoder(token)` is the one-click hand-over. */
export function createIssuer({ loadIntoDecoder }) {
  const form = document.getElementById("issue-form");
  const apiKey = document.getElementById("api-key");
  const editor = document.getElementById("claims-editor");
  const status = document.getElementById("claims-status");
  const button = document.getElementById("issue-button");
  const failure = document.getElementById("issue-error");
  const issued = document.getElementById("issued");
  const output = document.getElementById("issued-token");
  const facts = document.getElementById("issued-facts");
  const copyStatus = document.getElementById("copy-status");

  function validate() {
    const result = checkClaims(editor.value);
    const valid = !result.error;
    const count = valid ? Object.keys(result.claims).length : 0;
    status.dataset.valid = String(valid);
    status.textContent = valid
      ? `Valid JSON object with ${count} claim${count === 1 ? "" : "s"}.`
      : result.error;
    editor.setAttribute("aria-invalid", String(!valid));
    return result;
  }

  function showFailure(message, code) {
    fill(failure, el("strong", {}, "Not issued: "), code ? el("code", {}, code) : "", ` ${message}`);
    failure.hidden = false;
  }

  async function issue(event) {
    event.preventDefault();
    failure.hidden = true;
    const result = validate();
    if (result.error) {
      editor.focus();
      return;
    }
    const key = apiKey.value.trim();
    if (!key) {
      showFailure("Enter the API key first.", "");
      apiKey.focus();
      return;
    }
    button.disabled = true;
    button.textContent = "Issuing…";
    try {
      const answer = await postJson("/encode", result.claims, { authorization: `Bearer ${key}` });
      if (!answer.ok) {
        showFailure(answer.problem.detail, answer.problem.code);
        return;
      }
      showIssued(answer.data);
    } finally {
      button.disabled = false;
      button.textContent = "Issue token";
    }
  }

  function showIssued(data) {
    output.value = data.token;
    copyStatus.textContent = "";
    fill(
      facts,
      fact("Key", el("code", {}, data.kid)),
      fact("Algorithm", el("code", {}, data.alg)),
      fact("Expires", `${utc(data.exp)} (${describe("exp", data.exp)})`),
      fact("Token ID", el("code", {}, data.jti)),
    );
    issued.hidden = false;
    output.focus();
    output.select();
  }

  async function copy() {
    output.focus();
    output.select();
    try {
      await navigator.clipboard.writeText(output.value);
      copyStatus.textContent = "Copied to the clipboard.";
    } catch (error) {
      copyStatus.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
    }
  }

  editor.addEventListener("input", validate);
  form.addEventListener("submit", issue);
  document.getElementById("copy-token").addEventListener("click", copy);
  document.getElementById("load-token").addEventListener("click", () => loadIntoDecoder(output.value));
  validate();
}
