// Deno.listen connections → the core's Conn/Listener. Reads use conn.read() into one reused buffer
// (conn.readable costs several times the CPU); writes go through one ordered queue (write-queue.ts)
// because every Deno write is an async op that may be partial. fd 0 goes through node:net (the Node adapter, loaded only
// then): Deno.listen cannot adopt an fd (and silently binds 0.0.0.0 if asked to).

import { formatAddress } from "../core/address.ts";
import type { App, Conn, Listener, RemoteAddr, ServeOptions, Server, Source } from "../core/types.ts";
import { bindUnix, type ListenSpec, makeServe, type PathKind, ReleaseHook, withSocketMode } from "./common.ts";
import { WriteQueue } from "./write-queue.ts";

// The few Deno APIs used, declared here so the package type-checks without Deno's lib.
interface DenoAddr {
  transport: string;
  hostname?: string;
  port?: number;
  path?: string;
}
interface DenoConn {
  readonly remoteAddr: DenoAddr;
  read(buf: Uint8Array): Promise<number | null>;
  write(buf: Uint8Array): Promise<number>;
  close(): void;
  closeWrite(): Promise<void>;
  setNoDelay?(noDelay?: boolean): void;
}
interface DenoListener extends AsyncIterable<DenoConn> {
  readonly addr: DenoAddr;
  accept(): Promise<DenoConn>;
  close(): void;
}
interface DenoGlobal {
  listen(
    options: { hostname: string; port: number; tcpBacklog?: number } | { transport: "unix"; path: string },
  ): DenoListener;
  lstat(path: string): Promise<{ isSocket: boolean | null }>;
  remove(path: string): Promise<void>;
}
const Deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;

async function kindOf(path: string): Promise<PathKind> {
  try {
    return (await Deno.lstat(path)).isSocket ? "socket" : "other";
  } catch (err) {
    if ((err as Error).name === "NotFound") return "none";
    throw err;
  }
}

/**
 * Read buffer sizes: each connection starts small and doubles its buffer while reads fill it. A
 * web server that opens a connection per request (nginx past its `keepalive` count) would
 * otherwise allocate 64 KiB per request, and Deno's RSS grew large under that churn.
 */
const READ_FIRST = 8 * 1024;
const READ_MAX = 64 * 1024;
/** Bytes queued for writing before write() asks the caller to wait. */
const WRITE_HIGH_WATER = 64 * 1024;

/** Errors that only mean the peer went away. */
function isDisconnect(err: unknown): boolean {
  const name = (err as Error)?.name;
  return name === "ConnectionReset" || name === "BrokenPipe" || name === "BadResource" || name === "Interrupted" ||
    name === "NotConnected" || name === "ConnectionAborted";
}

class DenoSocket implements Conn, Source<Uint8Array> {
  readonly remote: RemoteAddr;
  readonly readable: Source<Uint8Array> = this;
  // Each read lands in #buf; the core copies only the body pieces it keeps, not params or headers.
  readonly reusesReadBuffer = true;
  #conn: DenoConn;
  #buf = new Uint8Array(READ_FIRST);
  /** What the write ops have not taken yet, written by #pump one op at a time. */
  readonly #queue = new WriteQueue();
  #writing = false;
  #closing = false;
  #closed = false;
  readonly #released = new ReleaseHook();
  #eof = false;

  constructor(conn: DenoConn) {
    this.#conn = conn;
    const a = conn.remoteAddr;
    this.remote = a.transport === "unix"
      ? { address: a.path ?? "", family: "unix" }
      : { address: a.hostname ?? "", port: a.port, family: a.hostname?.includes(":") ? "IPv6" : "IPv4" };
    if (a.transport === "tcp") conn.setNoDelay?.(true);
  }

  /**
   * Reads and hands each chunk to the core until it asks to pause or the peer's EOF. Reading is
   * pull-only: nothing is read while the core does not ask, which is the backpressure.
   */
  async deliver(sink: (chunk: Uint8Array) => boolean): Promise<boolean> {
    for (;;) {
      if (this.#closed) return false;
      let n: number | null;
      try {
        n = await this.#conn.read(this.#buf);
      } catch (err) {
        if (this.#closed || isDisconnect(err)) n = null;
        else throw err;
      }
      if (n === null) {
        // EOF (or the peer is gone): once our side is shut too, the connection is done.
        this.#eof = true;
        if (this.#closing && !this.#writing) this.#shut();
        return false;
      }
      const buf = this.#buf;
      if (n === buf.length && n < READ_MAX) this.#buf = new Uint8Array(n * 2);
      if (!sink(buf.subarray(0, n))) return true;
    }
  }

  write(chunk: Uint8Array, sent?: () => void): void | Promise<void> {
    if (this.#closed || this.#closing) return;
    const q = this.#queue;
    q.push(chunk, sent);
    if (!this.#writing) this.#pump();
    if (q.bytes > WRITE_HIGH_WATER) return q.whenDrained();
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    const q = this.#queue;
    try {
      while (!q.empty) {
        // took() counts a partial write as it leaves: `unsent` must fall while a large chunk goes out.
        if (q.took(await this.#conn.write(q.first)) && q.bytes <= WRITE_HIGH_WATER) q.notifyDrained();
      }
    } catch {
      this.#shut(); // the peer is gone; the read side will see it too
    }
    this.#writing = false;
    q.notifyDrained();
    if (this.#closing) this.#finish();
  }

  get unsent(): number {
    return this.#queue.bytes;
  }

  /** Sends what is queued, then shuts our side (FIN); the socket is released at the peer's EOF or destroy(). */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (!this.#writing) this.#finish();
  }

  #finish(): void {
    if (this.#eof) return this.#shut();
    this.#conn.closeWrite().catch(() => this.#shut());
  }

  destroy(): void {
    this.#shut(); // drops what is queued
  }

  #shut(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#released.release();
  }

  whenReleased(callback: () => void): void {
    this.#released.when(callback);
  }
}

export async function listen(spec: ListenSpec): Promise<Listener> {
  const { address, socketMode, backlog, log } = spec;
  if (address.kind === "fd") return (await import("./node.ts")).listen(spec);
  // tcpBacklog: Deno.listen's own option (not in its types). A Unix listener's backlog is fixed at
  // 1024 (tokio's), whatever --backlog says: README, "--backlog".
  const listener = address.kind === "tcp"
    ? await withSocketMode(
      socketMode,
      () => Deno.listen({ hostname: address.host, port: address.port, tcpBacklog: backlog }),
    )
    : await bindUnix(
      address.path,
      kindOf,
      () => withSocketMode(socketMode, () => Deno.listen({ transport: "unix", path: address.path })),
    );
  let closed = false;
  const name = address.kind === "tcp"
    ? formatAddress({ ...address, port: listener.addr.port ?? address.port })
    : formatAddress(address);
  return {
    address: name,
    close: async () => {
      closed = true;
      listener.close();
      // Deno leaves the file behind.
      if (address.kind === "unix" && (await kindOf(address.path).catch(() => "none")) === "socket") {
        await Deno.remove(address.path).catch(() => {});
      }
    },
    // Accepts only while the worker takes connections: past --max-conns they wait in the kernel's
    // listen queue, not in the worker.
    async deliver(sink) {
      for (;;) {
        let conn: DenoConn;
        try {
          conn = await listener.accept();
        } catch (err) {
          const name = (err as Error).name;
          if (closed || name === "BadResource" || name === "Interrupted") return false;
          log("error", `accept failed: ${(err as Error).message}`);
          await new Promise((r) => setTimeout(r, 100)); // EMFILE: give descriptors a moment to free up
          continue;
        }
        if (!sink(new DenoSocket(conn))) return true;
      }
    },
  };
}

/**
 * Starts a FastCGI worker for `app` with this adapter, whichever runtime runs it (`fetchcgi`'s
 * serve() picks the adapter itself).
 * @example
 * ```ts
 * // serve.ts; deno run --allow-net serve.ts
 * import { serve } from "fetchcgi/deno";
 * const server = serve({ fetch: () => new Response("hello") }, { listen: "127.0.0.1:9000" });
 * await server.ready;
 * ```
 */
export const serve: (app: App, options?: ServeOptions) => Server = makeServe(listen);
