// The public types, in one file (`fetchcgi` and `fetchcgi/core` re-export them): the contracts
// between the user's app, the core and the runtime adapters; a running worker's options and handle.

/**
 * The peer of a connection: for a worker, the web server.
 * @example
 * ```ts
 * const remote: RemoteAddr = { address: "127.0.0.1", port: 51234, family: "IPv4" }; // a Unix socket's: { address: "", family: "unix" }
 * ```
 */
export interface RemoteAddr {
  readonly address: string;
  readonly port?: number;
  readonly family: "IPv4" | "IPv6" | "unix";
}

/**
 * Items handed to a callback as they come, without a promise per item (Channel, the Deno adapter).
 * A Conn's `readable` may be one instead of an async iterable.
 * @example A pull-style socket read into one reused buffer (and `reusesReadBuffer: true` on its Conn)
 * ```ts
 * declare const socket: { read(buf: Uint8Array): Promise<number | null> };
 * const buf = new Uint8Array(64 * 1024);
 * const readable: Source<Uint8Array> = {
 *   async deliver(sink) {
 *     for (let n; (n = await socket.read(buf)) !== null;) if (!sink(buf.subarray(0, n))) return true; // paused
 *     return false; // EOF
 *   },
 * };
 * ```
 */
export interface Source<T> {
  /**
   * Calls `sink` with each item; the sink returns false to ask for no more for now. Resolves true
   * once it did (call deliver again for more), false at the end.
   */
  deliver(sink: (value: T) => boolean): Promise<boolean>;
}

/**
 * One accepted connection, as a runtime adapter hands it to the core: what a custom transport
 * implements (with a Listener to hand them out, or one at a time through a Channel).
 * @example A node:net Socket (allowHalfOpen), which buffers its own writes
 * ```ts
 * import { Channel } from "fetchcgi/core";
 * import type { Socket } from "node:net";
 * declare const socket: Socket;
 * const readable = new Channel<Uint8Array>();
 * socket.on("data", (chunk) => readable.push(chunk)).on("end", () => readable.end()).on("close", () => readable.end());
 * const conn: Conn = {
 *   readable,
 *   write: (chunk) => (socket.write(chunk) ? undefined : new Promise((resolve) => socket.once("drain", resolve))),
 *   close: () => void socket.end(),
 *   destroy: () => void socket.destroy(),
 *   get unsent() { return socket.writableLength; },
 * };
 * ```
 */
export interface Conn {
  /** Chunks in arrival order, ending at EOF; not pulling is backpressure. A Source (a Channel) saves a promise per chunk. */
  readonly readable: AsyncIterable<Uint8Array> | Source<Uint8Array>;
  /**
   * True when a chunk from `readable` is valid only until the next one is asked for, or from a
   * Source until the sink returns (the adapter reads into one reused buffer): the core then
   * copies the body pieces it keeps. A number: only chunks up to that many bytes are (larger ones
   * are the core's to keep). Default false.
   */
  readonly reusesReadBuffer?: boolean | number;
  /**
   * Queues bytes in order; returns a Promise only when the caller should wait (backpressure).
   * `sent`, if given, is called once the runtime no longer reads `chunk` (handed to the kernel):
   * the core then reuses the buffer. An adapter that cannot tell never calls it, which is safe;
   * calling it early is not.
   */
  write(chunk: Uint8Array, sent?: () => void): void | Promise<void>;
  /** Optional: several chunks at once, where the runtime can send them in one system call (writev); `sent` as for write, for all of them. */
  writev?(chunks: readonly Uint8Array[], sent?: () => void): void | Promise<void>;
  /**
   * Sends what is queued, then shuts the write side (FIN). Reading goes on: the connection is
   * released when the peer closes too (the readable ends) or on destroy().
   */
  close(): void;
  /**
   * Closes at once, dropping what is queued; the readable ends. What the kernel already holds
   * still goes out (no reset): the core destroys a closed connection once `unsent` is 0.
   */
  destroy(): void;
  /**
   * How much of what was written the kernel has not taken yet: 0 once it has all of it, and
   * falling as it takes some (bytes, or a measure that falls with them). After close() the core
   * destroys the connection only once it is 0, or once it stops falling for flushTimeout (a peer
   * that does not read). Optional: without it the core takes it as 0, and may cut a slow reader.
   */
  readonly unsent?: number;
  /**
   * Optional: calls back once the connection is released (closed both ways, or destroyed), at once
   * if it already is, so that the core drops its destroy-after-linger timer early.
   */
  whenReleased?(callback: () => void): void;
  readonly remote?: RemoteAddr;
}

/**
 * A bound socket handing out connections (a Source or an AsyncIterable); closing it stops
 * accepting. startServer() takes one. While maxConns are open the worker asks for no more: accept
 * none then (they wait in the kernel's queue), or hold what the runtime accepted, unread.
 * @example Connections pushed into a Channel as they arrive
 * ```ts
 * import { Channel } from "fetchcgi/core";
 * const conns = new Channel<Conn>();
 * const listener: Listener = {
 *   address: "tcp:127.0.0.1:9000", // as formatAddress() writes it; the worker logs it
 *   close: async () => conns.end(), // and stop the socket accepting
 *   [Symbol.asyncIterator]: () => conns,
 * };
 * // for each accepted socket: conns.push(connOf(socket))
 * ```
 */
export type Listener = (Source<Conn> | AsyncIterable<Conn>) & {
  readonly address: string;
  close(): Promise<void>;
};

/**
 * FastCGI params (the CGI/1.1 variables) of one request, as sent by the web server: the handler's `env`.
 * @example
 * ```ts
 * const handler: FetchHandler = (request, env: Params) => new Response(`served by ${env.SERVER_SOFTWARE}`);
 * ```
 */
export type Params = Readonly<Record<string, string>>;

/**
 * The FastCGI role a request came in (`ctx.role`): a responder answers it; an authorizer's 200
 * lets the web server go on (its `Variable-*` headers become params), anything else is the
 * answer; a filter reads the file to filter from `ctx.data`.
 * @example
 * ```ts
 * const app: App = (request, env, ctx) => ctx.role === "authorizer" ? new Response(null, { status: request.headers.has("authorization") ? 200 : 401 }) : new Response("hello");
 * ```
 */
export type Role = "responder" | "authorizer" | "filter";

/**
 * The handler's third argument, as in Cloudflare Workers, with what FastCGI adds.
 * @example
 * ```ts
 * const handler: FetchHandler = (request, env, ctx: Context) => {
 *   ctx.log(`request ${ctx.requestId} from ${ctx.remote?.address}`); // into the web server's error log
 *   ctx.waitUntil(fetch("http://127.0.0.1:8125/hit")); // a graceful close waits for it
 *   return new Response("ok");
 * };
 * ```
 */
export interface Context {
  /** Keeps the worker's graceful close waiting for `promise`; a rejection is logged. */
  waitUntil(promise: Promise<unknown>): void;
  /** Accepted for Workers compatibility; a FastCGI worker has no origin to fall back to. */
  passThroughOnException(): void;
  readonly role: Role;
  /** The Filter role's FCGI_DATA stream (the file to filter); null for other roles. */
  readonly data: ReadableStream<Uint8Array> | null;
  /** Writes a line to this request's FCGI_STDERR (the web server's error log). */
  log(message: string): void;
  /** The web server's end of the FastCGI connection. */
  readonly remote: RemoteAddr | undefined;
  readonly requestId: number;
}

/**
 * Answers one request: the `fetch` of a Workers-style module.
 * @example
 * ```ts
 * const handler: FetchHandler = async (request) => Response.json({ path: new URL(request.url).pathname, body: await request.text() });
 * ```
 */
export type FetchHandler = (request: Request, env: Params, ctx: Context) => Response | Promise<Response>;

/**
 * A Workers-style module (`{ fetch }`) or a bare handler function.
 * @example
 * ```ts
 * // app.ts: the module the CLI loads (`fetchcgi app.ts`), or what serve() takes
 * export default { fetch: (request) => new Response("hello") } satisfies App;
 * ```
 */
export type App = FetchHandler | { fetch: FetchHandler };

/**
 * The level of a worker's own log line.
 * @example
 * ```ts
 * const quiet: Logger = (level: LogLevel, message) => level === "info" || console.error(message);
 * ```
 */
export type LogLevel = "error" | "warn" | "info";

/**
 * Where the worker's own log lines go (option `log`). Default: console.error, with a level prefix.
 * @example
 * ```ts
 * import { serve } from "fetchcgi";
 * const log: Logger = (level, message) => console.log(JSON.stringify({ level, message, time: Date.now() }));
 * serve({ fetch: () => new Response("hello") }, { listen: ":9000", log });
 * ```
 */
export type Logger = (level: LogLevel, message: string) => void;

/**
 * The worker's limits and timeouts: serve()'s options, and startServer()'s.
 * @example
 * ```ts
 * const options: WorkerOptions = { maxConns: 256, requestTimeout: 30_000, allow: ["127.0.0.1", "10.0.0.0/8"] };
 * ```
 */
export interface WorkerOptions {
  /** Concurrent connections (FCGI_MAX_CONNS); more wait to be accepted until one closes (see Listener). Default 1024. */
  maxConns?: number;
  /** Concurrent requests in the whole worker (FCGI_MAX_REQS); more get OVERLOADED. Default 1024. */
  maxRequests?: number;
  /** Serve several requests at once on one connection (FCGI_MPXS_CONNS). Default true. */
  multiplex?: boolean;
  /** Total bytes of one request's params. Default 262144. */
  maxParamsBytes?: number;
  /** Number of params of one request. Default 1000. */
  maxParams?: number;
  /** Bytes of one param name or value. Default 131072. */
  maxParamLength?: number;
  /** Request body bytes buffered for a handler that reads slowly before the connection stops reading. Default 262144. */
  bodyBuffer?: number;
  /** Milliseconds a handler may run on after its request was aborted before END_REQUEST is sent anyway. Default 3000. */
  abortGrace?: number;
  /** Milliseconds close() waits for in-flight requests before cutting them off. Default 10000. */
  closeTimeout?: number;
  /**
   * Milliseconds within which a record, once begun, and a request's params, from BEGIN_REQUEST on,
   * must have arrived; else the connection is closed (slowloris). Not applied while the worker
   * itself stopped reading (backpressure). 0 disables. Default 30000.
   */
  readTimeout?: number;
  /** Milliseconds a connection with nothing in flight may stay silent before it is closed. 0 (default) leaves it to the web server. */
  idleTimeout?: number;
  /**
   * Milliseconds a connection the worker closes may go with the web server taking none of the
   * output still queued; then it is dropped and logged. 0: no bound. Default 60000.
   */
  flushTimeout?: number;
  /**
   * Milliseconds a handler may take, from the end of the params to the end of its response; then
   * request.signal aborts with a TimeoutError and the web server gets 503 (or, mid-response, a
   * failed response). 0 (default) disables.
   */
  requestTimeout?: number;
  /**
   * Make the global Response a lazy one (core/lazy-response.ts, docs: README): text and bytes are
   * written without building the runtime's Response. A global change, made with the first
   * request; default false (the CLI's default: true).
   */
  lazyResponse?: boolean;
  /**
   * Give the handler a lazy Request (core/lazy-request.ts): the runtime's Request is built only when
   * more than url, method or signal is asked. Wraps the global `fetch` and `Request` so that they
   * take it (core/globals.ts: call wrapGlobals() before the app loads, as the CLI does). Default
   * false (the CLI's default: true).
   */
  lazyRequest?: boolean;
  /** TCP peers allowed to connect: IPs and CIDRs, IPv4 and IPv6 (FCGI_WEB_SERVER_ADDRS). Default: any. Unix sockets are not filtered. */
  allow?: readonly string[];
  /** Where the worker's own log lines go. Default: console.error with a level prefix. */
  log?: Logger;
}

/**
 * serve()'s options: the worker's, and where to listen.
 * @example
 * ```ts
 * import { serve } from "fetchcgi";
 * const options: ServeOptions = { listen: "unix:/run/app/fcgi.sock", socketMode: "660", closeTimeout: 5000 };
 * serve({ fetch: () => new Response("hello") }, options);
 * ```
 */
export interface ServeOptions extends WorkerOptions {
  /**
   * Where to listen: `tcp:HOST:PORT`, `HOST:PORT`, `[::1]:PORT`, `:PORT` (127.0.0.1), `unix:PATH`,
   * an absolute path, or `fd:0`. Default: fd 0 when it is a socket (spawned by a web server,
   * FCGI_LISTENSOCK_FILENO), else an error.
   */
  listen?: string;
  /**
   * Permissions of a Unix socket file, like "660"; applied before it accepts (on Deno only with
   * --allow-sys, else just after binding). Default 660: the owner and its group may connect, as
   * PHP-FPM's `listen.mode`.
   */
  socketMode?: string | number;
  /**
   * Connections that may wait to be accepted (the listen backlog), and on Node and Bun, which
   * accept on their own, connections held unread past maxConns. Default: 65535, which the kernel
   * caps at its maximum (Linux: net.core.somaxconn); see README, "--backlog".
   */
  backlog?: number;
}

/**
 * A running worker, as serve() and startServer() return it.
 * @example
 * ```ts
 * import { serve } from "fetchcgi";
 * const server: Server = serve({ fetch: () => new Response("hello") }, { listen: "127.0.0.1:0" });
 * await server.ready; // rejects with a ListenError if the address cannot be used
 * console.log(`listening on ${server.address}`); // tcp:127.0.0.1:PORT, the port resolved
 * process.on("SIGTERM", () => server.close()); // serve() installs no signal handlers
 * await server.finished;
 * ```
 */
export interface Server {
  /** The address it listens on (`tcp:127.0.0.1:9000`, `unix:/run/app.sock`, `fd:0`); "" until ready. */
  readonly address: string;
  /** Resolves once listening; rejects if the address cannot be used. */
  readonly ready: Promise<void>;
  /** Stops accepting, lets requests in flight finish (up to closeTimeout), then resolves. */
  close(): Promise<void>;
  /** Settles when the worker has stopped: resolves after close(), rejects if listening failed. */
  readonly finished: Promise<void>;
}

/**
 * A listen address, as parseAddress() reads the `--listen` forms.
 * @example
 * ```ts
 * import { parseAddress } from "fetchcgi/core";
 * const address: Address = parseAddress("unix:/run/app.sock"); // { kind: "unix", path: "/run/app.sock" }
 * if (address.kind === "tcp") console.log(address.host, address.port);
 * ```
 */
export type Address =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string }
  | { kind: "fd"; fd: number };

/**
 * The runtimes fetchcgi runs on (`runtime` says which one this is).
 * @example
 * ```ts
 * import { runtime, type RuntimeName } from "fetchcgi";
 * const name: RuntimeName = runtime; // "node", "bun" or "deno"
 * ```
 */
export type RuntimeName = "bun" | "deno" | "node";
