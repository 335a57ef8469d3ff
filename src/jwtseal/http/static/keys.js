// The key panel: every published key with its state and dates, from GET /keys.

import { getJson } from "./api.js";
import { el, fact, fill } from "./render.js";
import { relative } from "./times.js";

const STATES = {
  next: "Next: published, not signing yet",
  current: "Current: signs new tokens",
  retired: "Retired: verifies tokens it signed",
};
const DATES = [
  ["created", "Created"],
  ["activates", "Activates"],
  ["retires", "Retires"],
  ["removes", "Leaves JWKS"],
];

/** Wire the key panel; returns {refresh(), mark(kid)}. */
export function createKeyPanel() {
  const list = document.getElementById("key-list");
  const status = document.getElementById("keys-status");
  let marked = null;

  async function refresh() {
    status.textContent = "Loading keys…";
    const answer = await getJson("/keys");
    if (!answer.ok) {
      status.textContent = `Could not load the keys: ${answer.problem.code}. ${answer.problem.detail}`;
      return;
    }
    const keys = answer.data.keys;
    fill(list, ...keys.map(keyCard));
    status.textContent = `${keys.length} key${keys.length === 1 ? "" : "s"} published.`;
    mark(marked);
  }

  function mark(kid) {
    marked = kid;
    for (const card of list.children) {
      const signer = kid !== null && card.dataset.kid === kid;
      card.classList.toggle("key-signer", signer);
      card.querySelector(".key-signer-note").hidden = !signer;
    }
  }

  document.getElementById("refresh-keys").addEventListener("click", refresh);
  return { refresh, mark };
}

function keyCard(key) {
  const state = String(key.state);
  return el(
    "li",
    { class: "key", "data-kid": key.kid, "data-state": state },
    el(
      "div",
      { class: "key-head" },
      el("code", { class: "key-kid", title: "Key ID (kid)" }, key.kid),
      el(
        "span",
        { class: "key-badges" },
        el("span", { class: "badge badge-alg", title: "Algorithm" }, key.alg),
        el("span", { class: `badge badge-${state}`, title: STATES[state] ?? state }, state),
      ),
    ),
    el("p", { class: "key-signer-note", hidden: true }, "Signed the token in the decoder."),
    el("dl", { class: "facts key-dates" }, ...DATES.map(([name, label]) => fact(label, when(key[name])))),
  );
}

function when(iso) {
  if (!iso) {
    return el("span", { class: "muted" }, "not scheduled");
  }
  const seconds = Date.parse(iso) / 1000;
  const text = `${iso.slice(0, 16).replace("T", " ")} UTC`;
  return el(
    "time",
    { datetime: iso, title: iso },
    el("span", { class: "nowrap" }, text),
    " ",
    el("span", { class: "muted nowrap" }, `· ${relative(seconds)}`),
  );
}
