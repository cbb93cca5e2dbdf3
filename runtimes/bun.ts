// Bun.listen sockets → the core's Conn/Listener. Bun's write() is unbuffered: it returns the bytes
// it took, and a later write while the kernel is full drops data, so everything not taken waits in
// a WriteQueue (write-queue.ts) until Bun's `drain` callback.

import { formatAddress } from "../core/address.ts";
import { Channel } from "../core/channel.ts";
import type { App, Conn, Listener, Logger, RemoteAddr, ServeOptions, Server } from "../core/types.ts";
import { Accepted } from "./accepted.ts";
import { DescriptorWatch } from "./descriptors.ts";
import {
  bindUnix,
  byteLength,
  type ListenSpec,
  makeServe,
  type PathKind,
  READ_QUEUE_BYTES,
  ReleaseHook,
  withSocketMode,
} from "./common.ts";
import { WriteQueue } from "./write-queue.ts";

// The few Bun APIs used, declared here so the package type-checks without @types/bun (and on JSR).
interface BunSocket {
  data: BunConn;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  write(data: Uint8Array): number;
  end(): void;
  shutdown(halfClose?: boolean): void;
  /** A reset: only for a connection refused past the backlog, which has nothing to lose. */
  terminate(): void;
  pause?(): void;
  resume?(): void;
  setNoDelay?(enabled: boolean): boolean;
}
interface BunListener {
  readonly port?: number;
  readonly fd?: number;
  stop(closeActiveConnections?: boolean): void;
}
interface BunGlobal {
  listen(options: Record<string, unknown>): BunListener;
  file(path: string): { stat(): Promise<{ isSocket(): boolean }> };
}
const Bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
interface BunFfi {
  suffix: string;
  dlopen(path: string, symbols: Record<string, { args: string[]; returns: string }>): {
    symbols: Record<string, (...args: number[]) => number>;
    close(): void;
  };
}
/** A variable: the bundler leaves it alone, and Node and Deno never see the import. */
const BUN_FFI = "bun:ffi";

/** Bun.file().stat() rather than node:fs, which would cost idle RSS; it follows symlinks. */
async function kindOf(path: string): Promise<PathKind> {
  try {
    return (await Bun.file(path).stat()).isSocket() ? "socket" : "other";
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return "none";
    throw err;
  }
}

/**
 * Reads up to this size are copied into one reused buffer, shared by every connection: the core
 * takes a chunk inside the push and is done with it when push() returns. Bun hands each read
 * over as a new Uint8Array; JSC keeps a small one (up to 1000 bytes) inside its heap, and the
 * first subarray of it (the parser's views of BEGIN_REQUEST and PARAMS) moves its bytes out into
 * a new ArrayBuffer: more than a microsecond per request. A copy into a buffer that already has
 * one costs a memcpy. Larger reads are kept as they are (their views are cheap), and theirs are
 * the only body pieces the core need not copy.
 */
const SMALL_READ = 4096;
let small: Uint8Array | null = null;

class BunConn implements Conn {
  readonly readable: Channel<Uint8Array>;
  readonly remote: RemoteAddr;
  readonly reusesReadBuffer = SMALL_READ;
  #socket: BunSocket;
  /** What the kernel had no room for, written on Bun's drain callback. */
  readonly #queue = new WriteQueue();
  #shutWhenFlushed = false;
  #closed = false;
  readonly #released = new ReleaseHook();

  constructor(socket: BunSocket, unix: boolean) {
    this.#socket = socket;
    const address = socket.remoteAddress ?? "";
    this.remote = unix || !address
      ? { address: "", family: "unix" }
      : { address, port: socket.remotePort, family: address.includes(":") ? "IPv6" : "IPv4" };
    if (!unix) socket.setNoDelay?.(true);
    this.readable = new Channel<Uint8Array>(READ_QUEUE_BYTES, {
      size: byteLength,
      onFull: () => socket.pause?.(),
      onDrain: () => socket.resume?.(),
      onReturn: () => socket.resume?.(),
    });
  }

  /** Bun's data callback. Only a chunk the core takes at once goes through `small`: a queued one must stay as it is. */
  read(chunk: Uint8Array): void {
    const r = this.readable;
    if (chunk.length > SMALL_READ || !r.delivering) return r.push(chunk);
    const buf = (small ??= new Uint8Array(SMALL_READ));
    buf.set(chunk);
    r.push(buf.subarray(0, chunk.length));
  }

  write(chunk: Uint8Array, sent?: () => void): void | Promise<void> {
    if (this.#closed) return;
    const q = this.#queue;
    if (q.empty) {
      const n = this.#socket.write(chunk);
      if (n === chunk.length) return sent?.(); // the kernel has all of it
      if (n < 0) return this.onClose(); // closed
      chunk = chunk.subarray(n);
    }
    q.push(chunk, sent);
    return q.whenDrained();
  }

  /** Bun's drain callback: the kernel has room again. */
  onDrain(): void {
    const q = this.#queue;
    while (!q.empty) {
      const n = this.#socket.write(q.first);
      if (n < 0) return this.onClose();
      if (!q.took(n)) return; // the kernel is full again
    }
    q.notifyDrained();
    if (this.#shutWhenFlushed) this.#socket.shutdown();
  }

  onClose(): void {
    this.#closed = true;
    this.#queue.clear();
    this.readable.end();
    this.#released.release();
  }

  whenReleased(callback: () => void): void {
    this.#released.when(callback);
  }

  /** Sends what is queued, then shuts our side (FIN) and goes on reading: Bun closes the socket at the peer's EOF. */
  close(): void {
    if (this.#closed) return;
    if (!this.#queue.empty) this.#shutWhenFlushed = true; // shutting down now would lose the queued tail
    else this.#socket.shutdown();
  }

  /** Our queue only: what write() took is the kernel's. */
  get unsent(): number {
    return this.#queue.bytes;
  }

  /**
   * end(), not terminate(): terminate resets the connection (SO_LINGER 0), and the peer would lose
   * what its kernel holds unread, up to megabytes of the response.
   */
  destroy(): void {
    this.#socket.end();
    this.onClose();
  }
}

export async function listen({ address, socketMode, backlog, log }: ListenSpec): Promise<Listener> {
  const unix = address.kind !== "tcp";
  const watch = new DescriptorWatch(log); // Bun.listen has no accept error callback
  // Bun accepts every connection itself (its listener cannot stop accepting): those the worker
  // does not take yet wait paused, without a BunConn, until it does.
  const accepted = new Accepted<BunSocket>(backlog, log, {
    wrap(s, held) {
      s.data = new BunConn(s, unix);
      if (held) s.resume?.();
      return s.data;
    },
    hold: (s) => s.pause?.(),
    drop: (s) => s.terminate(),
  });
  const socket = {
    binaryType: "uint8array",
    open(s: BunSocket) {
      watch.opened();
      accepted.push(s);
    },
    data(s: BunSocket, chunk: Uint8Array) {
      s.data.read(chunk);
    },
    drain(s: BunSocket) {
      s.data.onDrain();
    },
    end(s: BunSocket) {
      s.data.readable.end();
    },
    close(s: BunSocket) {
      watch.closed();
      if (s.data) s.data.onClose();
      else accepted.remove(s); // closed while it waited
    },
    error(s: BunSocket, err: Error) {
      if (s.data) s.data.readable.fail(err);
      else log("error", `socket error: ${err.message}`);
    },
  };
  // For fd 0 Bun's (untyped) {fd} option adopts the inherited listening socket. allowHalfOpen: a
  // web server that shuts its sending side may still be reading the answer; without it Bun closes
  // the socket at the peer's EOF, dropping what is queued.
  const options = address.kind === "tcp"
    ? { hostname: address.host, port: address.port, socket, allowHalfOpen: true }
    : address.kind === "unix"
    ? { unix: address.path, socket, allowHalfOpen: true }
    : { fd: address.fd, socket, allowHalfOpen: true };
  const bind = () => withSocketMode(socketMode, () => Bun.listen(options));
  const listener = address.kind === "unix" ? await bindUnix(address.path, kindOf, bind) : await bind();
  await setBacklog(listener, backlog, log);
  const name = address.kind === "tcp"
    ? formatAddress({ ...address, port: listener.port ?? address.port })
    : formatAddress(address);
  return {
    address: name,
    close: async () => {
      listener.stop(false); // stop accepting; open connections are drained by the worker
      accepted.close();
    },
    deliver: (sink) => accepted.deliver(sink),
  };
}

/**
 * Bun.listen takes no backlog (it listens with 512; its `backlog` option and node:net's are
 * ignored), so listen(2) is called again on its socket through bun:ffi: on a listening socket it
 * only sets the backlog (Linux, the BSDs, macOS).
 */
async function setBacklog(listener: BunListener, backlog: number, log: Logger): Promise<void> {
  if (typeof listener.fd !== "number") return;
  try {
    const { dlopen, suffix } = (await import(BUN_FFI)) as BunFfi;
    const libc = dlopen(process.platform === "linux" ? "libc.so.6" : `libc.${suffix}`, {
      listen: { args: ["i32", "i32"], returns: "i32" },
    });
    const rc = libc.symbols.listen(listener.fd, backlog);
    libc.close();
    if (rc !== 0) log("warn", `could not set the listen backlog to ${backlog}; it stays at 512`);
  } catch (err) {
    log("warn", `could not set the listen backlog (${(err as Error).message}); it stays at 512`);
  }
}

/**
 * Starts a FastCGI worker for `app` with this adapter, whichever runtime runs it (`fetchcgi`'s
 * serve() picks the adapter itself).
 * @example
 * ```ts
 * // serve.ts; bun run serve.ts
 * import { serve } from "fetchcgi/bun";
 * const server = serve({ fetch: () => new Response("hello") }, { listen: "127.0.0.1:9000" });
 * await server.ready;
 * ```
 */
export const serve: (app: App, options?: ServeOptions) => Server = makeServe(listen);
