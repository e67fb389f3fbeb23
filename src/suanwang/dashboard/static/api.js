// The API client: every call carries the token; an error answer becomes an ApiError with the
// API's own code and message ({"error": {"code", "message", "field"}}). Paths are relative
// ("v1/...") so the dashboard also works behind a proxy that serves it under a sub-path.

const TOKEN_KEY = "suanwang.token";

export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export function savedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function saveToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the token lives only in memory
  }
}

export function url(path) {
  return new URL(path, document.baseURI).toString();
}

/** Call the API; resolves to the parsed JSON body (null for an empty one). */
export async function call(token, path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
      credentials: "omit",
    });
  } catch (exc) {
    if (exc && exc.name === "AbortError") throw exc;
    throw new ApiError(0, "unreachable", exc && exc.message ? exc.message : String(exc));
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(
      response.status,
      err.code || `http_${response.status}`,
      err.message || `${response.status} ${response.statusText}`,
      err.field ?? null,
    );
  }
  return data;
}
