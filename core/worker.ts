// The worker: takes connections from any Listener, enforces the connection and request limits it
// advertises (G11), and closes gracefully: stop accepting, finish what is in flight, close idle
// connections, cut off what is left after closeTimeout.

import { allowList } from "./allow.ts";
import { unref } from "./closing.ts";
import { Connection, type WorkerState } from "./connection.ts";
import { installLazyRequest } from "./lazy-request.ts";
import { installLazyResponse } from "./lazy-response.ts";
import type { PairLimits } from "./pairs.ts";
import type { App, Conn, FetchHandler, Listener, Logger, WorkerOptions } from "./types.ts";

/** A running worker, as serve() returns it. */
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

export const defaultLogger: Logger = (level, message) => console.error(`fetchcgi ${level}: ${message}`);

export function toHandler(app: App): FetchHandler {
  if (typeof app === "function") return app;
  if (app && typeof app === "object" && typeof app.fetch === "function") return app.fetch.bind(app);
  throw new TypeError("fetchcgi: the app must be a function (request, env, ctx) => Response or an object with a fetch() method");
}

function integerOption(options: WorkerOptions, name: keyof WorkerOptions, fallback: number, min = 1): number {
  const value = options[name] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new TypeError(`fetchcgi: option ${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
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
  #connections = new Set<Connection>();
  #tracked = new Set<Promise<unknown>>();
  #drained: (() => void) | null = null;

  constructor(app: App, options: WorkerOptions = {}) {
    this.handler = toHandler(app);
    this.log = options.log ?? defaultLogger;
    this.maxConns = integerOption(options, "maxConns", 1024);
    this.maxRequests = integerOption(options, "maxRequests", 1024);
    this.multiplex = options.multiplex ?? true;
    this.maxParamsBytes = integerOption(options, "maxParamsBytes", 256 * 1024, 1024);
    this.maxParams = integerOption(options, "maxParams", 1000);
    this.maxParamLength = integerOption(options, "maxParamLength", 128 * 1024, 256);
    this.paramLimits = { maxBytes: this.maxParamsBytes, maxPairs: this.maxParams, maxLength: this.maxParamLength };
    this.bodyBuffer = integerOption(options, "bodyBuffer", 256 * 1024);
    this.abortGrace = integerOption(options, "abortGrace", 3000, 0);
    this.closeTimeout = integerOption(options, "closeTimeout", 10000, 0);
    this.readTimeout = integerOption(options, "readTimeout", 30000, 0);
    this.idleTimeout = integerOption(options, "idleTimeout", 0, 0);
    this.requestTimeout = integerOption(options, "requestTimeout", 0, 0);
    this.flushTimeout = integerOption(options, "flushTimeout", 60000, 0);
    this.allowed = options.allow ? allowList(options.allow) : null;
    this.#lazyResponse = options.lazyResponse ?? false;
    this.lazyRequest = options.lazyRequest ?? false;
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
      .catch((err) => this.log("error", `waitUntil promise rejected: ${err instanceof Error ? err.stack : String(err)}`))
      .finally(() => {
        this.#tracked.delete(tracked);
        this.#checkDrained();
      });
    this.#tracked.add(tracked);
  }

  /**
   * Installs the lazy Response and the Request wrappers before the first request's handler runs:
   * not at start, nor for a connection that sends nothing (a health check), because taking the
   * runtime's Response or Request loads undici (megabytes of RSS) on Node, even reading the global's
   * property descriptor on Node 24.
   */
  beforeRequest(): void {
    if (!this.#lazyPending) return;
    this.#lazyPending = false;
    if (this.#lazyResponse) installLazyResponse();
    if (this.lazyRequest) installLazyRequest();
  }

  /** Serves one connection until it ends. */
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
      this.#connections.delete(c);
      if (this.#connections.size === 0) this.#stopSweep();
      this.#checkDrained();
    });
  }

  /** Accepts until the listener closes. */
  async accept(listener: Listener): Promise<void> {
    for await (const conn of listener) this.serveConn(conn);
  }

  /** Graceful close of every connection (the listener is closed by the caller). */
  async drain(): Promise<void> {
    this.draining = true;
    for (const c of this.#connections) c.closeWhenIdle();
    if (this.#connections.size === 0 && this.#tracked.size === 0) return;
    const drained = new Promise<void>((resolve) => (this.#drained = resolve));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.closeTimeout)));
    const timedOut = await Promise.race([drained.then(() => false), timeout]);
    clearTimeout(timer);
    if (timedOut) {
      this.log("warn", `close: ${this.active} request(s) still running after ${this.closeTimeout} ms; cutting them off`);
      for (const c of this.#connections) c.destroy();
    }
  }

  #checkDrained(): void {
    if (this.draining && this.#connections.size === 0 && this.#tracked.size === 0) this.#drained?.();
  }
}

/** Runs `app` on the listener that `listen` resolves to; this is what every runtime's serve() returns. */
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
