// Deno.listen connections → the core's Conn/Listener. Reads use conn.read() into one reused buffer
// (conn.readable costs several times the CPU); writes go through one ordered queue because every Deno write
// is an async op that may be partial. fd 0 goes through node:net (the Node adapter, loaded only
// then): Deno.listen cannot adopt an fd (and silently binds 0.0.0.0 if asked to).

import { formatAddress } from "../core/address.ts";
import { Channel } from "../core/channel.ts";
import type { App, Conn, Listener, RemoteAddr, Source } from "../core/types.ts";
import type { Server } from "../core/worker.ts";
import { bindUnix, type ListenSpec, makeServe, type PathKind, ReleaseHook, type ServeOptions, withSocketMode } from "./common.ts";

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
  listen(options: { hostname: string; port: number } | { transport: "unix"; path: string }): DenoListener;
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
  #queue: Uint8Array[] = [];
  /** Each queued chunk's `sent` callback, or undefined. */
  #sent: ((() => void) | undefined)[] = [];
  #queued = 0;
  #writing = false;
  #closing = false;
  #closed = false;
  readonly #released = new ReleaseHook();
  #eof = false;
  #drain: Promise<void> | null = null;
  #drained: (() => void) | null = null;

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
    this.#queue.push(chunk);
    this.#sent.push(sent);
    this.#queued += chunk.length;
    if (!this.#writing) this.#pump();
    if (this.#queued > WRITE_HIGH_WATER) return (this.#drain ??= new Promise((r) => (this.#drained = r)));
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const chunk = this.#queue.shift()!;
        const sent = this.#sent.shift();
        for (let off = 0; off < chunk.length;) {
          const n = await this.#conn.write(off === 0 ? chunk : chunk.subarray(off)); // a view only for a partial write's rest
          off += n;
          this.#queued -= n; // as it leaves: `unsent` must fall while a large chunk goes out
        }
        sent?.(); // the write op is done with the bytes
        if (this.#queued <= WRITE_HIGH_WATER) this.#release();
      }
    } catch {
      this.#shut(); // the peer is gone; the read side will see it too
    }
    this.#writing = false;
    this.#release();
    if (this.#closing) this.#finish();
  }

  get unsent(): number {
    return this.#queued;
  }

  #release(): void {
    const drained = this.#drained;
    this.#drain = this.#drained = null;
    drained?.();
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
    this.#queue = [];
    this.#sent = [];
    this.#queued = 0;
    this.#release();
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
  const { address, socketMode, log } = spec;
  if (address.kind === "fd") return (await import("./node.ts")).listen(spec);
  const listener = address.kind === "tcp"
    ? await withSocketMode(socketMode, () => Deno.listen({ hostname: address.host, port: address.port }))
    : await bindUnix(address.path, kindOf, () => withSocketMode(socketMode, () => Deno.listen({ transport: "unix", path: address.path })));
  const conns = new Channel<Conn>();
  let closed = false;
  (async () => {
    for (;;) {
      try {
        conns.push(new DenoSocket(await listener.accept()));
      } catch (err) {
        if (closed || (err as Error).name === "BadResource") break;
        log("error", `accept failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100)); // EMFILE: give descriptors a moment to free up
      }
    }
    conns.end();
  })();
  const name = address.kind === "tcp" ? formatAddress({ ...address, port: listener.addr.port ?? address.port }) : formatAddress(address);
  return {
    address: name,
    close: async () => {
      closed = true;
      listener.close();
      conns.end();
      // Deno leaves the file behind.
      if (address.kind === "unix" && (await kindOf(address.path).catch(() => "none")) === "socket") {
        await Deno.remove(address.path).catch(() => {});
      }
    },
    [Symbol.asyncIterator]: () => conns,
  };
}

/** Starts a FastCGI worker for `app` on this runtime. */
export const serve: (app: App, options?: ServeOptions) => Server = makeServe(listen);
