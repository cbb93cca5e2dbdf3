// Every change fetchcgi makes to the process's globals, and when it makes each: nothing else in
// fetchcgi assigns to globalThis or patches a runtime class.
//
// What. Option lazyResponse: the global `Response` becomes LazyResponse, and the runtime APIs known
// to read a Response's internals get the runtime's one instead (WebAssembly.compileStreaming and
// instantiateStreaming, Bun's HTMLRewriter.prototype.transform, Deno's Cache.prototype.put).
// Option lazyRequest: the global `fetch` and `Request` are wrapped, and so are Deno's Cache
// methods (put, match, delete, keys), to hand the runtime the real Request for a LazyRequest.
// Prototype methods are patched in place, so copies of those classes get it too.
//
// Why. The runtime's fetch(), Request and those APIs check for their own objects: given a lazy one
// they would throw. The lazy classes themselves are in lazy-response.ts and lazy-request.ts.
//
// When. (1) The CLI, before it loads the app (beforeAppLoads): `fetch` and `Request`, so that the
// copies the app and its libraries take at module scope are the wrappers; not Node's Request:
// reading it loads undici (megabytes of RSS; on Node 24 even reading its property descriptor),
// which a worker that has served nothing should not hold. A Request the runtime defines as a
// getter (Deno, Node 20) is wrapped when first read, as it would have loaded then. (2) The
// Worker, as the first request starts (installLazyGlobals): everything else. Not at start, nor for
// a connection that sends nothing (a health check): taking the runtime's Response or Request
// loads undici on Node. Every step is idempotent and none is undone.
//
// Off. The CLI turns both options on (its process is fetchcgi's): --no-lazy-response and
// --no-lazy-request leave those globals alone. serve() and a Worker change no global unless asked
// (lazyResponse: true, lazyRequest: true); wrapGlobals() lets an embedder do what the CLI does
// before it loads the app.

import { LazyRequest, useGlobalRequest } from "./lazy-request.ts";
import { LazyResponse, linkLazyResponse } from "./lazy-response.ts";

/** The CLI's step, before it loads the app: see "When" (1). */
export function beforeAppLoads(options: { lazyRequest?: boolean }, runtime: "bun" | "deno" | "node"): void {
  if (options.lazyRequest) wrapGlobals(runtime !== "node");
}

/** The Worker's step, as its first request starts: see "When" (2). */
export function installLazyGlobals(lazyResponse: boolean, lazyRequest: boolean): void {
  if (lazyResponse) installLazyResponse();
  if (lazyRequest) installLazyRequest();
}

/**
 * Makes LazyResponse the global Response (for `new Response(…)` in the app), and has the runtime
 * APIs that read a Response's internal state take the runtime's one. Idempotent.
 */
export function installLazyResponse(): void {
  linkLazyResponse(); // takes the runtime's Response first
  if (globalThis.Response !== (LazyResponse as unknown as typeof Response)) {
    globalThis.Response = LazyResponse as unknown as typeof Response;
    wrapResponseConsumers();
  }
}

/**
 * Everything a lazy Request needs of the globals: wrapGlobals() and Deno's Cache methods.
 * Idempotent.
 */
export function installLazyRequest(): void {
  wrapGlobals();
  wrapRequestCache();
}

/**
 * Wraps the global `fetch` and, unless `request` is false, the global `Request`, so that a lazy
 * Request given to either is the real one to the runtime. Taking `fetch` costs nothing on any
 * runtime; on Node, pass false (see "When" (1)): installLazyRequest() wraps Request later.
 * @example As the CLI does, before the app loads
 * ```ts
 * import { runtime, serve } from "fetchcgi";
 * import { wrapGlobals } from "fetchcgi/core";
 * wrapGlobals(runtime !== "node"); // Node: Request is wrapped with the first request
 * const { default: app } = await import("./app.ts"); // the fetch and Request it keeps are the wrappers
 * serve(app, { listen: "127.0.0.1:9000", lazyRequest: true });
 * ```
 */
export function wrapGlobals(request = true): void {
  wrapFetch();
  if (request) wrapRequest();
}

const realRequest = LazyRequest.real as (value: unknown) => unknown;
const realResponse = LazyResponse.real as (value: unknown) => unknown;

const defineGlobal = (name: string, value: unknown, enumerable = false) =>
  Object.defineProperty(globalThis, name, { configurable: true, writable: true, enumerable, value });

let fetchWrapped = false;

function wrapFetch(): void {
  if (fetchWrapped) return;
  fetchWrapped = true;
  const nativeFetch = globalThis.fetch;
  if (typeof nativeFetch !== "function") return;
  defineGlobal("fetch", function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    return nativeFetch(LazyRequest.real(input) as RequestInfo, init);
  });
}

let requestWrapped = false;

function wrapRequest(): void {
  if (requestWrapped) return;
  requestWrapped = true;
  const d = Object.getOwnPropertyDescriptor(globalThis, "Request");
  if (d === undefined) return;
  const get = d.get;
  if (get === undefined) return void defineGlobal("Request", requestWrapper(d.value), d.enumerable);
  // The runtime's getter may define the property itself (Node 20's does): ours defines it after.
  Object.defineProperty(globalThis, "Request", {
    configurable: true,
    enumerable: d.enumerable,
    get() {
      const wrapper = requestWrapper(get.call(globalThis) as typeof Request);
      defineGlobal("Request", wrapper, d.enumerable);
      return wrapper;
    },
    set(value: unknown) {
      defineGlobal("Request", value, d.enumerable);
    },
  });
}

/** A subclass of the runtime's Request that takes a lazy Request as its input. */
function requestWrapper(Base: typeof Request): typeof Request {
  class Request extends Base {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(LazyRequest.real(input) as RequestInfo, init);
    }

    // Requests the runtime makes itself (clone(), a library's) are Requests too; a subclass of this
    // one keeps the ordinary check.
    static [Symbol.hasInstance](value: unknown): boolean {
      return Function.prototype[Symbol.hasInstance].call(this === Request ? Base : this, value);
    }
  }
  Object.defineProperty(Request, "name", { value: "Request" }); // a bundler may rename the class
  useGlobalRequest(Request, Base);
  return Request;
}

let requestCacheWrapped = false;

/** Deno's Cache checks for its own Request: each method that takes one gets the real one. */
function wrapRequestCache(): void {
  if (requestCacheWrapped) return;
  requestCacheWrapped = true;
  const proto = (globalThis as unknown as { Cache?: { prototype: Record<string, unknown> } }).Cache?.prototype;
  for (const name of ["put", "match", "delete", "keys"]) wrapArgument(proto, name, 0, realRequest);
}

/** The runtime APIs known to refuse a lazy Response: each gets the runtime's. */
function wrapResponseConsumers(): void {
  const g = globalThis as unknown as Record<
    string,
    { prototype?: Record<string, unknown> } & Record<string, unknown> | undefined
  >;
  wrapArgument(g.WebAssembly, "compileStreaming", 0, realResponse);
  wrapArgument(g.WebAssembly, "instantiateStreaming", 0, realResponse);
  wrapArgument(g.HTMLRewriter?.prototype, "transform", 0, realResponse);
  wrapArgument(g.Cache?.prototype, "put", 1, realResponse);
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Replaces `owner[name]` with a method that passes its argument `at` through `convert` (a
 * Promise's value too: the streaming compiles take a Promise of a Response). Assigned, so that the
 * property keeps its attributes (Bun's HTMLRewriter transform is not configurable); a read-only
 * one is left as it is.
 */
function wrapArgument(
  owner: Record<string, unknown> | undefined,
  name: string,
  at: number,
  convert: (value: unknown) => unknown,
): void {
  const original = owner?.[name];
  if (typeof original !== "function") return;
  const wrapped = {
    [name](this: unknown, ...args: unknown[]) {
      const arg = args[at];
      args[at] = arg instanceof Promise ? arg.then(convert) : convert(arg);
      return (original as Method).apply(this, args);
    },
  }[name];
  try {
    owner![name] = wrapped;
  } catch {
    // read-only
  }
}
