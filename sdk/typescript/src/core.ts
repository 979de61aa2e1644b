/**
 * The HTTP behaviour every operation shares, written once: the base URL and token, retries
 * with backoff that honour `Retry-After`, an `Idempotency-Key` on every POST, errors as
 * exceptions, pagination by `Link: rel="next"`. The generated resources (operations.ts) only
 * say which operation to call with which fields. Only `fetch` is used: Node >= 18 and
 * browsers.
 */

export const VERSION = "0.1.0";
export const DEFAULT_PAGE_ID = "heliograph";

/** One operation of the OpenAPI document, as operations.ts declares it. */
export interface Operation {
  readonly id: string;
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  readonly path: string;
  readonly envelope: string | null;
  readonly many: boolean;
  readonly scope: string;
}

/** Query values are text in a URL; numbers and booleans are written for you. */
export type QueryOf<T> = { [K in keyof NonNullable<T>]?: NonNullable<T>[K] | number | boolean };

export interface RetryOptions {
  /** Tries after the first (default 3). */
  maxRetries?: number;
  /** First wait in seconds, doubled each time (default 0.5). */
  backoff?: number;
  /** Longest wait between tries in seconds (default 8). */
  maxBackoff?: number;
  /** A longer `Retry-After` than this (seconds, default 60) is not waited for. */
  maxRetryAfter?: number;
}

export interface ClientOptions {
  /** The site, e.g. https://status.example.com (…/v1 or …/v1/pages/<id> work too). Default: HELIOGRAPH_URL. */
  url?: string;
  /** An API token. Default: HELIOGRAPH_TOKEN. */
  token?: string;
  /** Default: HELIOGRAPH_PAGE_ID, else "heliograph". */
  pageId?: string;
  retry?: RetryOptions;
  /** Send an Idempotency-Key on every POST (default true). */
  idempotencyKeys?: boolean;
  /** Per-try timeout in milliseconds (default 30000). */
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** Another fetch (a test double, a fetch with a proxy agent). */
  fetch?: typeof fetch;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface WriteOptions extends CallOptions {
  /** The key of this POST (default: a new UUID, reused by the retries of this call). */
  idempotencyKey?: string;
}

interface CallInput extends WriteOptions {
  fields?: object;
  query?: object;
}

/**
 * An error answered by the API: `status`, the API's `message` and the field `errors` (a 422
 * names each refused field). `status` is undefined when nothing was answered.
 */
export class HeliographError extends Error {
  readonly status: number | undefined;
  readonly errors: Record<string, string>;
  readonly response: Response | undefined;
  readonly headers: Headers;

  constructor(
    message: string,
    status?: number,
    errors: Record<string, string> = {},
    response?: Response,
  ) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.errors = errors;
    this.response = response;
    this.headers = response?.headers ?? new Headers();
  }
}

/** 400: the body could not be read. */
export class BadRequestError extends HeliographError {}
/** 401: no token, or an unknown or revoked one. */
export class AuthenticationError extends HeliographError {}
/** 403: the token lacks the scope of the operation. */
export class PermissionDeniedError extends HeliographError {}
/** 404: unknown page or id. */
export class NotFoundError extends HeliographError {}
/** 409: a request with the same Idempotency-Key is still being processed. */
export class ConflictError extends HeliographError {}
/** 413: the body is larger than the server accepts. */
export class PayloadTooLargeError extends HeliographError {}
/** 422: a field was refused; `errors` maps each field to its message. Nothing was written. */
export class ValidationError extends HeliographError {}
/** 429: too many requests for this token. */
export class RateLimitError extends HeliographError {
  /** The wait the server asked for, in seconds. */
  get retryAfter(): number | undefined {
    return parseRetryAfter(this.headers.get("Retry-After"));
  }
}
/** 5xx: the server failed (or a channel test failed: 502 with the reason). */
export class ServerError extends HeliographError {}
/** No answer: the server could not be reached, or the connection broke. */
export class NetworkError extends HeliographError {}

const BY_STATUS: Record<number, typeof HeliographError> = {
  400: BadRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  422: ValidationError,
  429: RateLimitError,
};

/** Seconds from a `Retry-After` header: a number of seconds or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value.trim());
  if (!Number.isNaN(seconds)) return Math.max(0, seconds);
  const when = Date.parse(value);
  return Number.isNaN(when) ? undefined : Math.max(0, (when - Date.now()) / 1000);
}

async function errorFor(response: Response, text: string): Promise<HeliographError> {
  let message = response.statusText || "HTTP error";
  let errors: Record<string, string> = {};
  try {
    const data = JSON.parse(text);
    if (data && typeof data === "object" && !Array.isArray(data)) {
      if (data.message) message = String(data.message);
      if (data.errors && typeof data.errors === "object") errors = data.errors;
    }
  } catch {
    if (text && text.length < 500) message = text.trim() || message;
  }
  const Kind = BY_STATUS[response.status] ?? (response.status >= 500 ? ServerError : HeliographError);
  return new Kind(message, response.status, errors, response);
}

function env(name: string): string | undefined {
  // `process` exists in Node; a browser has no environment.
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.[name] || undefined;
}

function uuid(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  // Node 18 without the global Web Crypto: uniqueness is all a key needs.
  return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0;
    return (c === "x" ? r : (r & 0x3) | 0x8).toString(16);
  });
}

/** The site URL and page id from a URL that may already name the API. */
export function resolveUrl(url: string, pageId?: string): { site: string; pageId: string } {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new TypeError(`Not an http(s) URL: ${url}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(`Not an http(s) URL: ${url}`);
  }
  let path = parsed.pathname.replace(/\/+$/, "");
  const match = /\/v1(?:\/pages(?:\/([^/]+))?)?$/.exec(path);
  if (match) {
    pageId = pageId || match[1];
    path = path.slice(0, match.index);
  }
  return { site: `${parsed.origin}${path}`, pageId: pageId || DEFAULT_PAGE_ID };
}

/** The next-page URL of a `Link` header, if any. */
export function nextLink(header: string | null): string | undefined {
  for (const part of (header ?? "").split(",")) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /rel="?next"?/.test(match[2])) return match[1];
  }
  return undefined;
}

export interface Page<T> {
  items: T[];
  total: number | undefined;
  page: number | undefined;
  perPage: number | undefined;
  nextUrl: string | undefined;
}

const REPLAY_SAFE = new Set(["GET", "HEAD", "PUT", "DELETE"]);
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

function clean(object: object | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object ?? {})) {
    if (value !== undefined && value !== null) result[key] = value instanceof Date ? value.toISOString() : value;
  }
  return result;
}

/**
 * Sends the requests: the one place that knows HTTP. Retries: 429 always (after
 * `Retry-After`, unless that is longer than `maxRetryAfter`); 500, 502, 503, 504 and broken
 * connections when sending again cannot do the work twice (GET, HEAD, PUT, DELETE, and a
 * POST with an Idempotency-Key: every POST by default); a 502 with the API's own error body
 * (a failed channel test) is an answer and is not retried. Waits grow exponentially with
 * jitter.
 */
export class Transport {
  readonly url: string;
  readonly pageId: string;
  readonly token: string | undefined;
  readonly headers: Record<string, string>;
  readonly retry: Required<RetryOptions>;
  readonly idempotencyKeys: boolean;
  readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  /** Replaced by tests to see the waits without waiting. */
  sleep: (seconds: number) => Promise<unknown> = sleep;

  constructor(options: ClientOptions = {}) {
    const url = options.url ?? env("HELIOGRAPH_URL");
    if (!url) {
      throw new TypeError(
        "No Heliograph URL: pass { url } (e.g. https://status.example.com) or set HELIOGRAPH_URL.",
      );
    }
    const { site, pageId } = resolveUrl(url, options.pageId ?? env("HELIOGRAPH_PAGE_ID"));
    this.url = site;
    this.pageId = pageId;
    this.token = options.token ?? env("HELIOGRAPH_TOKEN");
    this.retry = { maxRetries: 3, backoff: 0.5, maxBackoff: 8, maxRetryAfter: 60, ...options.retry };
    this.idempotencyKeys = options.idempotencyKeys ?? true;
    this.timeoutMs = options.timeoutMs ?? 30000;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.headers = { Accept: "application/json", ...options.headers };
    if (this.token) this.headers.Authorization = `OAuth ${this.token}`;
  }

  /** Seconds to wait before retry number `attempt` (0 for the first retry). */
  wait(attempt: number, retryAfter?: number): number {
    const ceiling = Math.min(this.retry.maxBackoff, this.retry.backoff * 2 ** attempt);
    if (retryAfter !== undefined) return retryAfter + Math.random() * (Math.min(ceiling, 1) / 4);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  urlFor(operation: Operation, path: Record<string, string>, query?: object): string {
    const values: Record<string, string> = { page_id: this.pageId, ...path };
    const filled = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name]));
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(clean(query))) search.set(key, String(value));
    const qs = search.toString();
    return `${this.url}${filled}${qs ? `?${qs}` : ""}`;
  }

  /** A next-page link on our own base URL (behind a proxy the server may name itself otherwise). */
  follow(link: string): string {
    const next = new URL(link, this.url);
    const base = new URL(this.url);
    return `${base.origin}${next.pathname}${next.search}`;
  }

  async call(operation: Operation, path: Record<string, string>, input: CallInput = {}): Promise<unknown> {
    const url = this.urlFor(operation, path, input.query);
    const headers: Record<string, string> = { ...this.headers };
    let body: string | undefined;
    if (operation.method === "POST" || operation.method === "PUT" || operation.method === "PATCH") {
      const inner = clean(input.fields);
      body = JSON.stringify(operation.envelope ? { [operation.envelope]: inner } : inner);
      headers["Content-Type"] = "application/json";
    }
    if (operation.method === "POST") {
      const key = input.idempotencyKey ?? (this.idempotencyKeys ? uuid() : undefined);
      if (key) headers["Idempotency-Key"] = key;
    }
    const { response, text } = await this.send(operation.method, url, headers, body, input.signal);
    return this.result(response, text);
  }

  list<T>(operation: Operation, path: Record<string, string>, query: object = {}, options: CallOptions = {}): Paginator<T> {
    return new Paginator<T>(this, this.urlFor(operation, path, query), options);
  }

  result(response: Response, text: string): unknown {
    if (response.status === 204 || !text) return undefined;
    if ((response.headers.get("Content-Type") ?? "").includes("json")) return JSON.parse(text);
    return text; // e.g. a credit report's CSV
  }

  /** Send with retries; resolves with the answer (2xx/3xx), rejects with a HeliographError. */
  async send(
    method: string,
    url: string,
    headers: Record<string, string>,
    body?: string,
    signal?: AbortSignal,
  ): Promise<{ response: Response; text: string }> {
    const replaySafe = REPLAY_SAFE.has(method) || (method === "POST" && "Idempotency-Key" in headers);
    for (let attempt = 0; ; attempt++) {
      let response: Response | undefined;
      let text = "";
      let failure: unknown;
      try {
        const timeout = AbortSignal.timeout(this.timeoutMs);
        response = await this.fetchImpl(url, {
          method,
          headers,
          body,
          signal: signal ? anySignal([signal, timeout]) : timeout,
        });
        text = await response.text();
      } catch (error) {
        if (signal?.aborted) throw error;
        failure = error;
        response = undefined;
      }
      const last = attempt >= this.retry.maxRetries;
      if (response === undefined) {
        // fetch does not say whether the request left; only replay-safe ones are sent again.
        if (last || !replaySafe) {
          throw new NetworkError(`${method} ${url}: ${String((failure as Error)?.message ?? failure)}`);
        }
        await this.sleep(this.wait(attempt));
        continue;
      }
      if (response.status < 400) return { response, text };
      let waitFor: number | undefined;
      if (!last) {
        const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
        if (response.status === 409 && attempt > 0 && "Idempotency-Key" in headers) {
          waitFor = this.wait(attempt); // our first try is still running; its answer will be stored
        } else if (response.status === 429) {
          if (retryAfter === undefined || retryAfter <= this.retry.maxRetryAfter) {
            waitFor = this.wait(attempt, retryAfter);
          }
        } else if (RETRY_STATUSES.has(response.status) && replaySafe) {
          if (!(response.status === 502 && isApiError(text))) waitFor = this.wait(attempt, retryAfter);
        }
      }
      if (waitFor === undefined) throw await errorFor(response, text);
      await this.sleep(waitFor);
    }
  }
}

function isApiError(text: string): boolean {
  try {
    const data = JSON.parse(text);
    return Boolean(data && typeof data === "object" && "message" in data);
  } catch {
    return false;
  }
}

function anySignal(signals: AbortSignal[]): AbortSignal {
  const controller = new AbortController();
  for (const signal of signals) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
  }
  return controller.signal;
}

/**
 * A list of the API, page after page: `for await (const item of paginator)` gives every item
 * (the next page is fetched by its `Link: rel="next"` when the last one is used up);
 * `pages()` gives the pages with their totals. Nothing is fetched until it is iterated.
 */
export class Paginator<T> implements AsyncIterable<T> {
  constructor(
    private readonly transport: Transport,
    private readonly firstUrl: string,
    private readonly options: CallOptions = {},
  ) {}

  async *pages(): AsyncGenerator<Page<T>> {
    let url: string | undefined = this.firstUrl;
    while (url !== undefined) {
      const { response, text } = await this.transport.send("GET", url, { ...this.transport.headers }, undefined, this.options.signal);
      const data = this.transport.result(response, text);
      const number = (name: string) => {
        const value = response.headers.get(name);
        return value && /^\d+$/.test(value) ? Number(value) : undefined;
      };
      const next = nextLink(response.headers.get("Link"));
      yield {
        items: (Array.isArray(data) ? data : [data]) as T[],
        total: number("X-Total-Count"),
        page: number("X-Page"),
        perPage: number("X-Per-Page"),
        nextUrl: next,
      };
      url = next === undefined ? undefined : this.transport.follow(next);
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for await (const page of this.pages()) yield* page.items;
  }

  async firstPage(): Promise<Page<T>> {
    for await (const page of this.pages()) return page;
    throw new HeliographError("The list answered no page.");
  }

  async toArray(): Promise<T[]> {
    const items: T[] = [];
    for await (const item of this) items.push(item);
    return items;
  }
}
