// The worker: takes connections from any Listener, enforces the connection and request limits it
// advertises (G11), and closes gracefully: stop accepting, finish what is in flight, close idle
// connections, cut off what is left after closeTimeout. At maxConns it takes no more connections
// from the listener until one closes: they wait (in the kernel's listen queue, or held unread by
// a listener whose runtime accepts on its own) instead of being accepted and closed, which a web
// server would answer with 502.

import { allowList } from "./allow.ts";
import { sourceOf } from "./channel.ts";
import { unref } from "./closing.ts";
import { Connection, type WorkerState } from "./connection.ts";
import { installLazyGlobals } from "./globals.ts";
import { booleanOption, integerOption } from "./options.ts";
import type { PairLimits } from "./pairs.ts";
import type { App, Conn, FetchHandler, Listener, Logger, Server, WorkerOptions } from "./types.ts";

export const defaultLogger: Logger = (level, message) => console.error(`fetchcgi ${level}: ${message}`);

export function toHandler(app: App): FetchHandler {
  if (typeof app === "function") return app;
  if (app && typeof app === "object" && typeof app.fetch === "function") return app.fetch.bind(app);
  throw new TypeError(
    "fetchcgi: the app must be a function (request, env, ctx) => Response or an object with a fetch() method",
  );
}

export class Worker implements WorkerState {
  readonly handler: FetchHandler;
  readonly log: Logger;
  readonly maxConns: number;
  readonly maxRequests: number;
  readonly multiplex: boolean;
  readonly maxParamsBytes: number;
  readonly maxParams: number;
  readonly maxParamLength: number;
  readonly paramLimits: PairLimits;
  readonly bodyBuffer: number;
  readonly abortGrace: number;
  readonly lazyRequest: boolean;
  readonly closeTimeout: number;
  readonly readTimeout: number;
  readonly idleTimeout: number;
  readonly requestTimeout: number;
  readonly flushTimeout: number;
  readonly allowed: ((address: string) => boolean) | null;
  /** A coarse clock (ms), advanced by the timeout sweep: no clock read per chunk on the hot path. */
  now = 0;
  active = 0;
  draining = false;
  /** The open connections, which count against maxConns. */
  #connections = new Set<Connection>();
  /**
   * Connections the worker closed that wait for the peer's EOF (up to LINGER_MS): not counted, as
   * the web server is already done with them (with a connection per request, nginx closes its end
   * as soon as it has read the answer, but until then they would fill the limit under a burst).
   */
  #lingering = new Set<Connection>();
  #tracked = new Set<Promise<unknown>>();
  #drained: (() => void) | null = null;
  /** The accept loop waits for a connection to close (at maxConns); this ends the wait. */
  #room: (() => void) | null = null;
  /** "maxConns reached" was logged; logged again once the connections fell to half the limit. */
  #fullLogged = false;

  constructor(app: App, options: WorkerOptions = {}) {
    this.handler = toHandler(app);
    this.log = options.log ?? defaultLogger;
    this.maxConns = integerOption(options, "maxConns");
    this.maxRequests = integerOption(options, "maxRequests");
    this.multiplex = booleanOption(options, "multiplex");
    this.maxParamsBytes = integerOption(options, "maxParamsBytes");
    this.maxParams = integerOption(options, "maxParams");
    this.maxParamLength = integerOption(options, "maxParamLength");
    this.paramLimits = { maxBytes: this.maxParamsBytes, maxPairs: this.maxParams, maxLength: this.maxParamLength };
    this.bodyBuffer = integerOption(options, "bodyBuffer");
    this.abortGrace = integerOption(options, "abortGrace");
    this.closeTimeout = integerOption(options, "closeTimeout");
    this.readTimeout = integerOption(options, "readTimeout");
    this.idleTimeout = integerOption(options, "idleTimeout");
    this.requestTimeout = integerOption(options, "requestTimeout");
    this.flushTimeout = integerOption(options, "flushTimeout");
    this.allowed = options.allow ? allowList(options.allow) : null;
    this.#lazyResponse = booleanOption(options, "lazyResponse");
    this.lazyRequest = booleanOption(options, "lazyRequest");
    this.#lazyPending = this.#lazyResponse || this.lazyRequest;
    const timeouts = [this.readTimeout, this.idleTimeout, this.requestTimeout].filter((t) => t > 0);
    this.#sweepPeriod = timeouts.length ? Math.min(1000, Math.max(50, Math.floor(Math.min(...timeouts) / 4))) : 0;
  }

  /** The lazy globals are still to be installed (see beforeRequest). */
  #lazyPending: boolean;
  #lazyResponse: boolean;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  /** A quarter of the shortest timeout (0.05–1 s); 0 when no timeout is set. */
  readonly #sweepPeriod: number;

  /** While connections are open, checks their timeouts every #sweepPeriod. */
  #sweep(): void {
    if (this.#sweeper !== undefined || this.#sweepPeriod === 0) return;
    // A monotonic clock: a step of the wall clock (NTP, a VM resumed) must not time out every
    // connection and request at once, nor switch the timeouts off while it lasts.
    this.now = performance.now();
    // The listener keeps the process alive, not the sweep.
    this.#sweeper = unref(setInterval(() => {
      this.now = performance.now();
      for (const c of this.#connections) c.sweep(this.now);
    }, this.#sweepPeriod));
  }

  #stopSweep(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  track(promise: Promise<unknown>): void {
    const tracked: Promise<unknown> = Promise.resolve(promise)
      .catch((err) =>
        this.log("error", `waitUntil promise rejected: ${err instanceof Error ? err.stack : String(err)}`)
      )
      .finally(() => {
        this.#tracked.delete(tracked);
        this.#checkDrained();
      });
    this.#tracked.add(tracked);
  }

  /** Installs the lazy globals as the first request starts (core/globals.ts says why then). */
  beforeRequest(): void {
    if (!this.#lazyPending) return;
    this.#lazyPending = false;
    installLazyGlobals(this.#lazyResponse, this.lazyRequest);
  }

  /** Serves one connection until it ends; past maxConns (a caller other than accept()) it is closed at once. */
  serveConn(conn: Conn): void {
    if (this.draining) return conn.destroy();
    const remote = conn.remote;
    if (this.allowed && remote && remote.family !== "unix" && !this.allowed(remote.address)) {
      this.log("warn", `refused connection from ${remote.address} (not in the allowed clients)`);
      return conn.destroy();
    }
    if (this.#connections.size >= this.maxConns) {
      this.log("warn", `connection refused: ${this.maxConns} connections open (maxConns)`);
      return conn.destroy();
    }
    this.#sweep(); // first: the connection starts its clocks from `now`, which must be current
    const c = new Connection(conn, this);
    this.#connections.add(c);
    c.run().then(() => {
      if (!this.#lingering.delete(c)) {
        this.#connections.delete(c);
        this.#freed();
      }
      if (this.#connections.size === 0) this.#stopSweep();
      this.#checkDrained();
    });
  }

  lingering(c: Connection): void {
    if (!this.#connections.delete(c)) return;
    this.#lingering.add(c);
    this.#freed();
  }

  /** A connection no longer counts: the accept loop may go on. */
  #freed(): void {
    const open = this.#connections.size;
    if (this.#room !== null && open < this.maxConns) {
      const room = this.#room;
      this.#room = null;
      room();
    }
    if (open <= this.maxConns >> 1) this.#fullLogged = false;
  }

  /**
   * Takes connections until the listener closes, and none while maxConns are open: the listener
   * is not asked for more until one closes.
   */
  async accept(listener: Listener): Promise<void> {
    const source = sourceOf(listener);
    while (await source.deliver(this.#take)) {
      // Checked here, not in #take: a connection may have closed since.
      if (this.#connections.size >= this.maxConns) await new Promise<void>((resolve) => (this.#room = resolve));
    }
  }

  /** The listener's sink: serves `conn`; false (take no more for now) once maxConns are open. */
  #take = (conn: Conn): boolean => {
    this.serveConn(conn);
    if (this.#connections.size < this.maxConns) return true;
    if (!this.#fullLogged) {
      this.#fullLogged = true;
      this.log("warn", `${this.maxConns} connections open (maxConns): new connections wait until one closes`);
    }
    return false;
  };

  /** Graceful close of every connection (the listener is closed by the caller). */
  async drain(): Promise<void> {
    this.draining = true;
    for (const c of this.#connections) c.closeWhenIdle();
    if (this.#isDrained()) return;
    const drained = new Promise<void>((resolve) => (this.#drained = resolve));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.closeTimeout)));
    const timedOut = await Promise.race([drained.then(() => false), timeout]);
    clearTimeout(timer);
    if (timedOut) {
      this.log(
        "warn",
        `close: ${this.active} request(s) still running after ${this.closeTimeout} ms; cutting them off`,
      );
      for (const c of [...this.#connections, ...this.#lingering]) c.destroy();
    }
  }

  /** Nothing open, nothing lingering (exiting then could reset an answer not yet read), nothing tracked. */
  #isDrained(): boolean {
    return this.#connections.size === 0 && this.#lingering.size === 0 && this.#tracked.size === 0;
  }

  #checkDrained(): void {
    if (this.draining && this.#isDrained()) this.#drained?.();
  }
}

/**
 * Runs `app` on the Listener that `listen` resolves to: the entry of a custom transport, and what
 * every runtime's serve() returns. `listen` is called at once; a rejection rejects `ready` and
 * `finished`.
 *
 * @example
 * ```ts
 * import { startServer, type Listener } from "fetchcgi/core";
 * declare const listener: Listener; // see Listener
 * const server = startServer({ fetch: () => new Response("hello") }, async () => listener, { maxConns: 64 });
 * await server.ready;
 * // later: await server.close(); // stops accepting, lets requests in flight finish
 * ```
 */
export function startServer(app: App, listen: () => Promise<Listener>, options: WorkerOptions = {}): Server {
  const worker = new Worker(app, options);
  let listener: Listener | undefined;
  let closing: Promise<void> | undefined;
  const ready = listen().then((l) => {
    listener = l;
  });
  const finished = ready.then(() => worker.accept(listener!)).then(() => closing);
  ready.catch(() => {}); // reported through `finished`
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await ready.catch(() => {});
      await listener?.close();
      await worker.drain();
    })();
    return closing;
  };
  return {
    get address() {
      return listener?.address ?? "";
    },
    ready,
    close,
    finished,
  };
}
