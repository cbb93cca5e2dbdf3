// The handler's Request, made only when the handler asks for more than its url, method or signal
// (option lazyRequest; the CLI's default). The runtime's Request, with a web server's
// usual headers, costs a quarter of a small answer (bench/inproc.ts; bench/PROFILE.md),
// and a handler that routes on the URL alone never needs it. Anything else asked of a
// lazy one (headers, body, clone(), any property of the runtime's Request.prototype, util.inspect)
// builds the runtime's Request once, from the same parts, and delegates to it.
//
// The runtime's fetch() and Request constructor read a Request's private state: core/globals.ts
// wraps them (and when) to hand them the real one.

import type { BodySource } from "./body.ts";
import { concat } from "./records.ts";
import { buildRequest, LazySignal, TOKEN } from "./request.ts";

/**
 * Fetch's "normalize a method": these are upper-cased; another token is kept as sent (Bun also
 * upper-cases the others it knows, PATCH among them, so a lower-case one is left to the runtime).
 */
const NORMALIZED = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

/** The runtime's Request, taken on first need (on Node that loads undici). */
let Native: typeof Request | undefined;
function native(): typeof Request {
  if (Native === undefined) {
    const global = globalThis.Request; // once wrapped, reading it makes the wrapper, which sets Native
    Native ??= global;
  }
  return Native;
}

/** The URL as a Request serializes it, or null for one left to the runtime (unparsable, credentials). */
function plainHref(url: string): string | null {
  // The last answer is kept: a web server sends the same URL again and again (a health check, an
  // API route), and comparing the string costs a fraction of parsing it.
  if (url === lastUrl) return lastHref;
  let href: string | null;
  try {
    const parsed = new URL(url);
    href = parsed.username || parsed.password ? null : parsed.href;
  } catch {
    href = null;
  }
  lastUrl = url;
  return (lastHref = href);
}
let lastUrl = "";
let lastHref: string | null = null;

export class LazyRequest {
  readonly #url: string;
  readonly #method: string;
  #init: RequestInit | null;
  readonly #onSkip: (message: string) => void;
  /** The worker's request body, read without a stream unless one is asked for. */
  readonly #body: BodySource | null;
  #real: Request | null = null;
  #signal: LazySignal | null = null;
  /** arrayBuffer(), bytes(), text() or json() read the body without the runtime's Request. */
  #bodyRead = false;

  /**
   * A method that is not a token or not upper-case (bar the six Fetch normalizes), or a URL that
   * does not parse or carries credentials, goes to the runtime's Request at once, which may refuse
   * it (the worker answers 400): the runtimes differ there. A header the runtime refuses is
   * dropped when the Request is built, and reported. A `body` source stands for init.body (the
   * worker's; its stream is made only if the runtime's Request is).
   */
  constructor(url: string, init: RequestInit, onSkip: (message: string) => void, body: BodySource | null = null) {
    link();
    this.#init = init;
    this.#onSkip = onSkip;
    this.#body = body;
    const given = init.method ?? "GET";
    const upper = given === "GET" ? given : given.toUpperCase();
    const method = NORMALIZED.has(upper) ? upper : given === upper && TOKEN.test(given) ? given : null;
    const href = method === null ? null : plainHref(url);
    if (href === null) {
      const real = (this.#real = buildRequest(native(), url, this.#fullInit(), onSkip));
      this.#init = null;
      this.#url = real.url;
      this.#method = real.method;
      return;
    }
    this.#url = href;
    this.#method = method!;
  }

  get url(): string {
    return this.#url;
  }

  get method(): string {
    return this.#method;
  }

  /** Made on first read; aborts on ABORT_REQUEST, a lost connection or the request timeout. */
  get signal(): AbortSignal {
    return (this.#signal ??= new LazySignal()).signal;
  }

  get bodyUsed(): boolean {
    return this.#real === null ? this.#bodyRead : this.#real.bodyUsed;
  }

  // The body read straight from the worker's source (or stream): on Node the runtime's Request
  // and its body mixin cost about as much as the rest of a 16 KiB POST (bench/inproc.ts post).
  arrayBuffer(): Promise<ArrayBuffer> {
    const body = this.#readBody();
    return body === null ? this.#delegate("arrayBuffer") : body.then((b) => b.buffer as ArrayBuffer);
  }

  bytes(): Promise<Uint8Array> {
    return this.#readBody() ?? this.#delegate("bytes");
  }

  text(): Promise<string> {
    const body = this.#readBody();
    return body === null ? this.#delegate("text") : body.then((b) => utf8.decode(b));
  }

  json(): Promise<unknown> {
    const body = this.#readBody();
    return body === null ? this.#delegate("json") : body.then((b) => JSON.parse(utf8.decode(b)));
  }

  /** The whole body in a buffer of its own, if nothing touched it (nor built the runtime's Request); null otherwise. */
  #readBody(): Promise<Uint8Array> | null {
    if (this.#real !== null || this.#bodyRead) return null;
    const collected = this.#body?.collect() ?? null;
    const stream = this.#init!.body;
    const body = collected ?? (stream instanceof ReadableStream ? readAll(stream) : null);
    if (body !== null) this.#bodyRead = true;
    return body;
  }

  /** The init with the body source's stream in it, for the runtime's Request. */
  #fullInit(): RequestInit {
    const init = this.#init!;
    return this.#body === null ? init : { ...init, body: this.#body.stream, duplex: "half" } as RequestInit;
  }

  #delegate<T>(name: "arrayBuffer" | "bytes" | "text" | "json"): Promise<T> {
    const real = LazyRequest.real(this) as unknown as Record<string, () => Promise<T>>;
    return typeof real[name] === "function"
      ? real[name]()
      : Promise.reject(new TypeError(`Request.prototype.${name} is not a function`));
  }

  /** The runtime's Request for a lazy one (built on first need), or `value` itself. */
  static real<T>(value: T): T | Request {
    if (typeof value !== "object" || value === null || !(#real in value)) return value;
    const lazy = value as LazyRequest;
    if (lazy.#real === null) {
      if (lazy.#bodyRead) {
        // Its body was read: the runtime's gets one that is used too (reading it again, clone()
        // and new Request(it) refuse it, as for any read body).
        const used = new ReadableStream<Uint8Array>();
        lazy.#real = buildRequest(
          native(),
          lazy.#url,
          { ...lazy.#init!, body: used, duplex: "half" } as RequestInit,
          lazy.#onSkip,
        );
        lazy.#real.body?.getReader().cancel().catch(() => {});
      } else {
        lazy.#real = buildRequest(native(), lazy.#url, lazy.#fullInit(), lazy.#onSkip);
      }
      lazy.#init = null;
    }
    return lazy.#real;
  }

  /** Aborts a lazy Request's signal now, or as soon as it is made; false for any other value. */
  static abort(value: unknown, reason: unknown): boolean {
    if (typeof value !== "object" || value === null || !(#real in value)) return false;
    const lazy = value as LazyRequest;
    (lazy.#signal ??= new LazySignal()).abort(reason);
    return true;
  }
}

/** UTF-8 decode as the body mixin's text() does: a leading BOM dropped, bad bytes as U+FFFD. */
const utf8 = new TextDecoder();

/**
 * All of a body stream's bytes in one buffer of their own. A lone chunk is usually a view into a
 * read buffer, and copied; one that spans its whole buffer is already a copy (the Deno adapter's
 * body pieces) and is handed out as it is.
 */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    chunks.push(r.value);
    size += r.value.length;
  }
  if (chunks.length !== 1) return concat(chunks, size);
  const only = chunks[0];
  return only.byteOffset === 0 && only.byteLength === only.buffer.byteLength ? only : new Uint8Array(only);
}

let linked = false;

/**
 * Gives LazyRequest.prototype every property of the runtime's Request.prototype, each building
 * the real Request and applying the runtime's own getter or method to it, and puts the global
 * Request's prototype under it, so that `instanceof Request` holds.
 */
function link(): void {
  if (linked) return;
  linked = true;
  const proto = LazyRequest.prototype;
  const base = native().prototype;
  if (!("bytes" in base)) delete (proto as { bytes?: unknown }).bytes; // Node 20's Request has none
  for (const key of Reflect.ownKeys(base)) {
    if (key === "constructor" || Object.hasOwn(proto, key)) continue;
    const d = Object.getOwnPropertyDescriptor(base, key)!;
    if (d.get) {
      const get = d.get;
      Object.defineProperty(proto, key, {
        configurable: true,
        enumerable: d.enumerable,
        get(this: unknown) {
          return get.call(LazyRequest.real(this));
        },
      });
    } else if (typeof d.value === "function") {
      const method = d.value as (...args: unknown[]) => unknown;
      Object.defineProperty(proto, key, {
        configurable: true,
        enumerable: d.enumerable,
        writable: true,
        value: {
          [method.name || "method"](this: unknown, ...args: unknown[]) {
            return method.apply(LazyRequest.real(this), args);
          },
        }[method.name || "method"],
      });
    }
  }
  const inspect = Symbol.for("nodejs.util.inspect.custom");
  if (!Object.hasOwn(proto, inspect)) {
    // Bun's Request.prototype has no inspect hook of its own: show the real Request.
    Object.defineProperty(proto, inspect, {
      configurable: true,
      writable: true,
      enumerable: false,
      value(this: unknown, _depth: number, options: unknown, inspect: (v: unknown, o: unknown) => string) {
        return inspect(LazyRequest.real(this), options);
      },
    });
  }
  underRequest(globalThis.Request);
}

/** Makes `Global` LazyRequest.prototype's constructor and puts its prototype under it. */
function underRequest(Global: typeof Request): void {
  Object.defineProperty(LazyRequest.prototype, "constructor", {
    configurable: true,
    writable: true,
    enumerable: false,
    value: Global,
  });
  Object.setPrototypeOf(LazyRequest.prototype, Global.prototype);
}

/**
 * core/globals.ts made `Wrapper`, a subclass of the runtime's `Base`, the global Request: Base is
 * the one to build, and a LazyRequest linked before the wrap moves under the wrapper.
 */
export function useGlobalRequest(Wrapper: typeof Request, Base: typeof Request): void {
  Native ??= Base;
  if (linked) underRequest(Wrapper);
}
