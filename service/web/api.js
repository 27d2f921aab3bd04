// The paperfeed API as both pages use it: JSON over fetch to this same server, with a
// bearer credential, and errors as the problem+json the API answers.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// `credential` is an async function that returns the bearer credential to send (a reader
// token on the reader page, the admin key on the console), or null for public endpoints.
export function client(credential) {
  async function call(method, path, { params, body, auth = true } = {}) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, v);
    }
    const headers = { Accept: "application/json" };
    if (auth) headers.Authorization = `Bearer ${await credential()}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (err) {
      throw new ApiError(0, `the server is not reachable (${err.message})`);
    }
    const type = response.headers.get("content-type") ?? "";
    const data = type.includes("json") ? await response.json() : null;
    if (!response.ok) {
      throw new ApiError(response.status, data?.detail ?? `${response.status} ${response.statusText}`);
    }
    return data;
  }
  return {
    get: (path, params, options) => call("GET", path, { ...options, params }),
    post: (path, body, options) => call("POST", path, { ...options, body }),
    put: (path, body, options) => call("PUT", path, { ...options, body }),
    delete: (path, options) => call("DELETE", path, options),
  };
}

// Small DOM helper: el("p", {class: "x", text: "hi"}, child, ...).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

// Says `message` to screen readers and shows it in the page's status line.
export function announce(message, isError = false) {
  const status = document.getElementById("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}
