// Calls to this service only: same origin, JSON in, JSON or problem+json out.

/**
 * POST a JSON body and read the answer.
 * Resolves to {ok: true, data} or {ok: false, problem: {status, code, title, detail}};
 * never rejects, so every caller shows an outcome.
 */
export async function postJson(path, body, headers = {}) {
  return call(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** GET a JSON document, with the same outcome shape as postJson. */
export async function getJson(path) {
  return call(path, { method: "GET", headers: { accept: "application/json" } });
}

async function call(path, init) {
  let response;
  try {
    response = await fetch(path, {
      ...init,
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch (error) {
    return failure(0, "network_error", "The service could not be reached.");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (response.ok && data !== null) {
    return { ok: true, data };
  }
  if (data && typeof data === "object" && typeof data.code === "string") {
    return {
      ok: false,
      problem: {
        status: response.status,
        code: data.code,
        title: String(data.title ?? ""),
        detail: String(data.detail ?? ""),
      },
    };
  }
  return failure(response.status, "unexpected_response", `The service answered ${response.status}.`);
}

function failure(status, code, detail) {
  return { ok: false, problem: { status, code, title: "", detail } };
}
