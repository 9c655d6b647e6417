// The platform's JSON API from the pages: the session cookie authenticates,
// the CSRF token (from the page's form field or the csrftoken cookie) goes in
// X-CSRFToken. Errors come back as {code, message, fields}; a 503 or 429 may say
// in Retry-After how many seconds to wait before trying again.

export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? "http_error";
    this.fields = body?.fields ?? null;
    /** Seconds the platform asked to wait (its Retry-After header), or null. */
    this.retryAfter = retryAfter;
  }
}

/** A Retry-After header given in seconds, as a number; null when absent or a date. */
export function retryAfterSeconds(value) {
  if (value === null || value === undefined || !/^\s*\d+\s*$/.test(value)) return null;
  return Number(value);
}

/** The request never reached the server, or its answer never came back. */
export class NetworkError extends Error {}

export function csrfToken() {
  const field = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (field?.value) return field.value;
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
}

function detail(body) {
  if (!body?.fields) return body;
  const extra = Object.entries(body.fields)
    .map(([field, messages]) => `${field}: ${messages.join(" ")}`)
    .join("; ");
  return { ...body, message: `${body.message} ${extra}`.trim() };
}

export async function api(method, url, body = undefined) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    throw new NetworkError(exc.message);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, detail(data), retryAfterSeconds(response.headers.get("Retry-After")));
  return data;
}

/**
 * PUT one raw part (`application/octet-stream`) with upload progress; `onSent`
 * once the body is out (the answer may take longer); `signal` abandons it;
 * resolves to the server's JSON, rejects with ApiError or NetworkError.
 */
export function putPart(url, blob, { onProgress = null, onSent = null, signal = null, timeoutMs = 300000 } = {}) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new NetworkError("aborted"));
      return;
    }
    const xhr = new XMLHttpRequest();
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.open("PUT", url);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.timeout = timeoutMs;
    xhr.withCredentials = true;
    // Upload events are only dispatched to listeners set before send().
    if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded);
    if (onSent) xhr.upload.onload = () => onSent();
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, detail(data), retryAfterSeconds(xhr.getResponseHeader("Retry-After"))));
    };
    xhr.onerror = () => reject(new NetworkError("network error"));
    xhr.ontimeout = () => reject(new NetworkError("timeout"));
    xhr.onabort = () => reject(new NetworkError("aborted"));
    xhr.send(blob);
  });
}
