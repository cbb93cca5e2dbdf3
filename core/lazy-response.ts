// A stand-in for the global Response (option lazyResponse; the CLI's default), as Node's HTTP
// adapters install one (@hono/node-server by default, srvx): `new Response(text or bytes, init)`
// only checks and records its parts, and the worker writes them as they are. Node's own Response
// copies the body and builds a byte stream for it at construction, whatever its size: most of
// what a small answer costs there; on Bun and Deno the runtime's
// Response, its Headers and its body stream are a third of a small answer. Anything else done
// with a response (reading or cloning it, passing it to the runtime) first builds the runtime's
// Response from the same parts and delegates to it. core/globals.ts makes it the global Response.

import { FramedBody } from "./framed.ts";
import { TOKEN } from "./request.ts";
import type { HeaderPairs } from "./response.ts";

/**
 * The runtime's own Response, taken when the lazy one is installed or first needed, not when this
 * module loads: on Node the first touch of the global loads undici, which a worker
 * without --lazy-response then loads only with its first request.
 */
let Native: typeof Response | undefined;
function native(): typeof Response {
  return (Native ??= globalThis.Response);
}
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;
const TEXT_TYPE = "text/plain;charset=UTF-8";
const JSON_TYPE = "application/json";

/** What the worker writes for a response nobody asked anything else of. */
export interface ResponseParts {
  readonly status: number;
  readonly statusText: string;
  /** A Headers, or the pairs a plain-object init gave (a Headers is made of them only when asked for). */
  headers: Headers | HeaderPairs;
  /** A large bytes body is copied framed as records (framed.ts): release() it once the socket is done with it. */
  readonly body: string | Uint8Array | FramedBody | null;
}

/** A value a Headers keeps as it is: bytes up to 0xFF, no NUL, CR or LF, no whitespace to trim. */
const PLAIN_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;
const MAX_PLAIN = 32;

/**
 * The pairs `new Headers(init)` would hold, plus `type` as the Content-Type if none is given, for
 * the init apps nearly always pass: none, or a plain object of ordinary string values. Anything
 * else (null) goes to a real Headers, with its own conversions and errors. Making and iterating a
 * Headers is a cost on every response, highest on Deno.
 */
function plainHeaders(init: unknown, type: string | undefined): HeaderPairs | null {
  if (init === undefined) return type ? [["content-type", type]] : [];
  if (typeof init !== "object" || init === null) return null;
  const proto = Object.getPrototypeOf(init);
  if ((proto !== Object.prototype && proto !== null) || Object.getOwnPropertySymbols(init).length > 0) return null;
  const keys = Object.keys(init);
  if (keys.length > MAX_PLAIN) return null;
  const pairs: [string, string][] = [];
  let typed = type === undefined;
  for (const key of keys) {
    const value = (init as Record<string, unknown>)[key];
    if (typeof value !== "string" || !TOKEN.test(key) || !PLAIN_VALUE.test(value)) return null;
    const name = key.toLowerCase();
    for (const pair of pairs) if (pair[0] === name) return null; // "A" and "a": a Headers joins them
    if (name === "content-type") typed = true;
    pairs.push([name, value]);
  }
  if (!typed) pairs.push(["content-type", type!]);
  return pairs;
}

/** The parts kept lazily, or null when the runtime's Response must check or take the arguments. */
function partsOf(body: unknown, init: ResponseInit | null | undefined, textType = TEXT_TYPE): ResponseParts | null {
  let bytes: string | Uint8Array | null; // the app's bytes: copied below, once the rest passed
  if (body === null || body === undefined) bytes = null;
  else if (typeof body === "string") bytes = body;
  else if (ArrayBuffer.isView(body)) {
    if (!(body.buffer instanceof ArrayBuffer)) return null; // shared memory: the runtimes disagree, let it decide
    bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  } else if (body instanceof ArrayBuffer) bytes = new Uint8Array(body);
  else return null; // streams, Blob, FormData, URLSearchParams…
  if (init !== undefined && init !== null && typeof init !== "object") return null;
  // Only a missing field takes the default: null is converted (and mostly refused) by the runtime.
  const status: unknown = init?.status === undefined ? 200 : init.status;
  const statusText: unknown = init?.statusText === undefined ? "" : init.statusText;
  // Anything the runtime would convert or refuse goes to it, so errors and coercions stay its own.
  if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) return null;
  if (typeof statusText !== "string" || !REASON_PHRASE.test(statusText)) return null;
  if (bytes !== null && NULL_BODY_STATUS.has(status)) return null;
  const type = typeof bytes === "string" ? textType : undefined;
  const headers = plainHeaders(init?.headers, type) ?? typedHeaders(init?.headers, type);
  if (bytes === null || typeof bytes === "string") return { status, statusText, headers, body: bytes };
  // A copy, as the Fetch API takes one; a large one into a reused buffer, as the records it leaves in.
  return { status, statusText, headers, body: FramedBody.copy(bytes) ?? new Uint8Array(bytes) };
}

function typedHeaders(init: HeadersInit | undefined, type: string | undefined): Headers {
  const headers = new Headers(init);
  if (type !== undefined && !headers.has("content-type")) headers.set("content-type", type);
  return headers;
}

export class LazyResponse {
  #parts: ResponseParts | null;
  #native: Response | null = null;
  /** The worker took the parts and wrote the body (which may be back in the pool by now). */
  #sent = false;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    linkLazyResponse();
    this.#parts = partsOf(body, init);
    if (this.#parts === null) this.#native = new (native())(body, init);
  }

  /** The runtime's Response with the same parts, made once. */
  #real(): Response {
    if (this.#native === null) {
      const p = this.#parts!;
      const init = { status: p.status, statusText: p.statusText, headers: p.headers as HeadersInit };
      if (this.#sent && p.body !== null) {
        // Its body went to the web server: used, as the runtime's would be after the worker read it.
        this.#native = new (native())(new Uint8Array(0), init);
        this.#native.body!.getReader().cancel().catch(() => {});
      } else if (p.body instanceof FramedBody) {
        this.#native = new (native())(p.body.bytes() as BodyInit, init);
        p.body.release();
      } else {
        this.#native = new (native())(p.body as BodyInit | null, init);
      }
      this.#parts = null;
    }
    return this.#native;
  }

  /** The runtime's Response for a lazy one (made now if need be), anything else as it is. */
  static real<T>(value: T): T {
    return typeof value === "object" && value !== null && #parts in value ? value.#real() as T : value;
  }

  /**
   * The parts, for the worker to write directly, if nothing made the runtime's Response yet; once
   * only, as a body can be read once. A FramedBody must be released once it is written.
   */
  static take(response: unknown): ResponseParts | null {
    // A brand check: instanceof LazyResponse holds for the runtime's responses too.
    if (typeof response !== "object" || response === null || !(#parts in response) || response.#sent) return null;
    const parts = response.#parts;
    if (parts !== null) response.#sent = true;
    return parts;
  }

  static json(data: unknown, init?: ResponseInit): Response {
    const text = JSON.stringify(data);
    if (text === undefined) return native().json(data, init); // the runtime's TypeError
    const parts = partsOf(text, init, JSON_TYPE);
    if (parts === null) {
      // The runtime checks (and refuses or converts) the init, with the JSON type in place.
      const headers = typedHeaders(init?.headers, JSON_TYPE);
      return new LazyResponse(text, {
        status: init?.status,
        statusText: init?.statusText,
        headers,
      }) as unknown as Response;
    }
    const response = new LazyResponse(null);
    response.#parts = parts;
    return response as unknown as Response;
  }

  static redirect(url: string | URL, status?: number): Response {
    return native().redirect(url, status);
  }

  static error(): Response {
    return native().error();
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof native(); // a lazy one has the runtime's Response.prototype in its chain
  }

  get status(): number {
    return this.#parts?.status ?? this.#native!.status;
  }
  get statusText(): string {
    return this.#parts?.statusText ?? this.#native!.statusText;
  }
  get ok(): boolean {
    const s = this.status;
    return s >= 200 && s <= 299;
  }
  get headers(): Headers {
    const parts = this.#parts;
    if (parts === null) return this.#native!.headers;
    if (Array.isArray(parts.headers)) parts.headers = new Headers(parts.headers); // from now on, what is written
    return parts.headers as Headers;
  }
  get type(): ResponseType {
    return this.#native?.type ?? "default";
  }
  get url(): string {
    return this.#native?.url ?? "";
  }
  get redirected(): boolean {
    return this.#native?.redirected ?? false;
  }
  get body(): ReadableStream<Uint8Array> | null {
    return this.#real().body;
  }
  get bodyUsed(): boolean {
    return this.#native?.bodyUsed ?? (this.#sent && this.#parts!.body !== null);
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#real().arrayBuffer();
  }
  blob(): Promise<Blob> {
    return this.#real().blob();
  }
  bytes(): Promise<Uint8Array> {
    return (this.#real() as Response & { bytes(): Promise<Uint8Array> }).bytes();
  }
  clone(): Response {
    return this.#real().clone();
  }
  formData(): Promise<FormData> {
    return this.#real().formData();
  }
  json(): Promise<unknown> {
    return this.#real().json();
  }
  text(): Promise<string> {
    return this.#real().text();
  }
}

let linked = false;

/**
 * Puts the runtime's Response under LazyResponse: `instanceof Response` and Response.prototype
 * checks hold, and anything the runtime adds to Response is inherited. Before this, only
 * LazyResponse.take() may be used (the worker calls it on every response).
 */
export function linkLazyResponse(): void {
  if (linked) return;
  linked = true;
  Object.setPrototypeOf(LazyResponse.prototype, native().prototype);
  Object.setPrototypeOf(LazyResponse, native());
}
