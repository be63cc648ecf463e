// The HTTP API: JSON in and out, errors as ApiError with the server's own message.

export class ApiError extends Error {
  constructor(status, message, code = "", retryAfter = 0) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds the server asked to wait (Retry-After), or 0
  }
  /** The server has no such endpoint (a feature not installed or not yet available). */
  get unavailable() {
    return this.status === 404 && this.message.startsWith("no such resource");
  }
}

export async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  let code = "";
  try {
    const body = await response.json();
    if (body && body.error) {
      message = body.error.message || message;
      code = body.error.code || "";
    }
  } catch {
    /* not JSON: keep the status line */
  }
  if (response.status === 401 && !response.url.endsWith("/api/auth/login")) {
    window.dispatchEvent(new CustomEvent("vms:unauthorized"));
  }
  const retryAfter = Number(response.headers.get("Retry-After")) || 0;
  return new ApiError(response.status, message, code, retryAfter);
}

export async function request(path, { method = "GET", json, body, headers = {}, signal } = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin", signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "the server cannot be reached");
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function api(path, options) {
  const response = await request(path, options);
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** Like api(), but a missing endpoint answers `fallback` instead of throwing. */
export async function optional(path, fallback = null, options) {
  try {
    return await api(path, options);
  } catch (err) {
    if (err instanceof ApiError && err.unavailable) return fallback;
    throw err;
  }
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : "";
}
