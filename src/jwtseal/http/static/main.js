// The token debugger: decoder, issue form and key panel, wired together.

import { createDecoder } from "./decoder.js";
import { createIssuer } from "./issuer.js";
import { createKeyPanel } from "./keys.js";

const keys = createKeyPanel();
const decoder = createDecoder({ onVerified: (kid) => keys.mark(kid) });
createIssuer({ loadIntoDecoder: (token) => decoder.load(token) });
keys.refresh();
document.documentElement.dataset.ready = "true";
