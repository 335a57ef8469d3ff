// Building DOM nodes without HTML strings (the CSP enforces Trusted Types).

/** el("p", {class: "hint"}, "text", child): an element with attributes and children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** Replace every child of `node`. */
export function fill(node, ...children) {
  node.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
}

const JSON_TOKEN =
  /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** Pretty-printed JSON as text nodes and coloured spans (keys, strings, numbers, literals). */
export function jsonNodes(value) {
  const text = JSON.stringify(value, null, 2);
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(JSON_TOKEN)) {
    if (match.index > last) {
      nodes.push(document.createTextNode(text.slice(last, match.index)));
    }
    const [whole, string, colon, literal] = match;
    if (string !== undefined && colon !== undefined) {
      nodes.push(el("span", { class: "json-key" }, string), colon);
    } else if (string !== undefined) {
      nodes.push(el("span", { class: "json-string" }, string));
    } else if (literal !== undefined) {
      nodes.push(el("span", { class: "json-literal" }, literal));
    } else {
      nodes.push(el("span", { class: "json-number" }, whole));
    }
    last = match.index + whole.length;
  }
  nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

/** A <dl> row: term and one or more description nodes. */
export function fact(term, ...descriptions) {
  return el("div", { class: "fact" }, el("dt", {}, term), ...descriptions.map((d) => el("dd", {}, d)));
}
