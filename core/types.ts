// The contracts between the user's app, the core and the runtime adapters.

/** The peer of a connection: for a worker, the web server. */
export interface RemoteAddr {
  readonly address: string;
  readonly port?: number;
  readonly family: "IPv4" | "IPv6" | "unix";
}

/** Items handed to a callback as they come, without a promise per item (Channel, the Deno adapter). */
export interface Source<T> {
  /**
   * Calls `sink` with each item; the sink returns false to ask for no more for now. Resolves true
   * once it did (call deliver again for more), false at the end.
   */
  deliver(sink: (value: T) => boolean): Promise<boolean>;
}

/** One accepted connection, as a runtime adapter hands it to the core. */
export interface Conn {
  /**
   * Chunks in arrival order; ends at EOF. Not pulling is backpressure: the adapter stops reading.
   * A Source (core/channel.ts's Channel is one) hands each chunk over in the adapter's own call,
   * without a promise per chunk.
   */
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
   * if it already is. It lets the core drop its destroy-after-linger timer, which would otherwise
   * keep every closed connection alive for the linger (and in V8's old generation, as garbage).
   */
  whenReleased?(callback: () => void): void;
  readonly remote?: RemoteAddr;
}

/** A bound socket handing out connections; closing it stops accepting. */
export interface Listener extends AsyncIterable<Conn> {
  readonly address: string;
  close(): Promise<void>;
}

/** FastCGI params (the CGI/1.1 variables) of one request, as sent by the web server. */
export type Params = Readonly<Record<string, string>>;

export type Role = "responder" | "authorizer" | "filter";

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

export type FetchHandler = (request: Request, env: Params, ctx: Context) => Response | Promise<Response>;

/** A Workers-style module (`{ fetch }`) or a bare handler function. */
export type App = FetchHandler | { fetch: FetchHandler };

export type LogLevel = "error" | "warn" | "info";
export type Logger = (level: LogLevel, message: string) => void;

export interface WorkerOptions {
  /** Concurrent connections (FCGI_MAX_CONNS); more are closed at accept. Default 1024. */
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
   * Milliseconds a connection the worker closes (after a response without FCGI_KEEP_CONN, a
   * failed one, or at shutdown) may go with the web server taking none of the output still
   * queued; then it is dropped, with a log line. Until then it stays open for a slow reader,
   * however long the whole takes. 0: no bound. Default 60000.
   */
  flushTimeout?: number;
  /**
   * Milliseconds a handler may take, from the end of the params to the end of its response; then
   * request.signal aborts with a TimeoutError and the web server gets 503 (or, mid-response, a
   * failed response). 0 (default) disables.
   */
  requestTimeout?: number;
  /**
   * Make the global Response a lazy one (core/lazy-response.ts): `new Response(text or bytes)` in
   * the app is then written without building the runtime's Response and its body stream: about
   * a third of a small answer's CPU, most of a large one's. A global change for the whole
   * process, made when the first request arrives; default false (the CLI's default: true).
   */
  lazyResponse?: boolean;
  /**
   * Give the handler a lazy Request (core/lazy-request.ts): its url, method and signal cost
   * nothing more, and the runtime's Request is built only when anything else is asked of it
   * (a quarter of a small answer). Also wraps the global `fetch` and `Request` with the first
   * request so that they accept it; a copy of either taken before does not, unless wrapGlobals()
   * ran before it was taken (the CLI calls it before it loads the app). Default false (the CLI's
   * default: true).
   */
  lazyRequest?: boolean;
  /** TCP peers allowed to connect: IPs and CIDRs, IPv4 and IPv6 (FCGI_WEB_SERVER_ADDRS). Default: any. Unix sockets are not filtered. */
  allow?: readonly string[];
  /** Where the worker's own log lines go. Default: console.error with a level prefix. */
  log?: Logger;
}
