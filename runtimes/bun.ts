// Bun.listen sockets → the core's Conn/Listener. Bun's write() is unbuffered: it returns the bytes
// it took, and a later write while the kernel is full drops data, so everything not taken waits in
// our own queue until `drain` (notes/runtimes.md §2).

import { formatAddress } from "../core/address.ts";
import { Channel } from "../core/channel.ts";
import type { App, Conn, Listener, RemoteAddr } from "../core/types.ts";
import type { Server } from "../core/worker.ts";
import { DescriptorWatch } from "./descriptors.ts";
import { bindUnix, byteLength, READ_QUEUE_BYTES, type ListenSpec, makeServe, type PathKind, ReleaseHook, type ServeOptions, withSocketMode } from "./common.ts";

// The few Bun APIs used, declared here so the package type-checks without @types/bun (and on JSR).
interface BunSocket {
  data: BunConn;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  write(data: Uint8Array): number;
  end(): void;
  shutdown(halfClose?: boolean): void;
  pause?(): void;
  resume?(): void;
  setNoDelay?(enabled: boolean): boolean;
}
interface BunListener {
  readonly port?: number;
  stop(closeActiveConnections?: boolean): void;
}
interface BunGlobal {
  listen(options: Record<string, unknown>): BunListener;
  file(path: string): { stat(): Promise<{ isSocket(): boolean }> };
}
const Bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;

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
  #queue: Uint8Array[] = [];
  /** Each queued chunk's `sent` callback, or undefined. */
  #sent: ((() => void) | undefined)[] = [];
  #drain: Promise<void> | null = null;
  #drained: (() => void) | null = null;
  #endWhenFlushed = false;
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
    if (this.#queue.length === 0) {
      const n = this.#socket.write(chunk);
      if (n === chunk.length) return sent?.(); // the kernel has all of it
      if (n < 0) return this.onClose(); // closed
      chunk = chunk.subarray(n);
    }
    this.#queue.push(chunk);
    this.#sent.push(sent);
    return this.#waitDrain();
  }

  #waitDrain(): Promise<void> {
    return (this.#drain ??= new Promise<void>((resolve) => (this.#drained = resolve)));
  }

  /** Bun's drain callback: the kernel has room again. */
  onDrain(): void {
    const q = this.#queue;
    while (q.length > 0) {
      const chunk = q[0];
      const n = this.#socket.write(chunk);
      if (n < 0) return this.onClose();
      if (n < chunk.length) {
        q[0] = chunk.subarray(n);
        return;
      }
      q.shift();
      this.#sent.shift()?.();
    }
    this.#release();
    if (this.#endWhenFlushed) this.#socket.shutdown();
  }

  onClose(): void {
    this.#closed = true;
    this.#queue = [];
    this.#sent = [];
    this.#release();
    this.readable.end();
    this.#released.release();
  }

  whenReleased(callback: () => void): void {
    this.#released.when(callback);
  }

  #release(): void {
    const drained = this.#drained;
    this.#drain = this.#drained = null;
    drained?.();
  }

  /** Sends what is queued, then shuts our side (FIN) and goes on reading: Bun closes the socket at the peer's EOF. */
  close(): void {
    if (this.#closed) return;
    if (this.#queue.length > 0) this.#endWhenFlushed = true; // shutting down now would lose the queued tail
    else this.#socket.shutdown();
  }

  /** Our queue only: what write() took is the kernel's. Summed when asked (while closing), not kept per write. */
  get unsent(): number {
    let n = 0;
    for (const chunk of this.#queue) n += chunk.length;
    return n;
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

export async function listen({ address, socketMode, log }: ListenSpec): Promise<Listener> {
  const conns = new Channel<BunConn>();
  const unix = address.kind !== "tcp";
  const watch = new DescriptorWatch(log); // Bun.listen has no accept error callback
  const socket = {
    binaryType: "uint8array",
    open(s: BunSocket) {
      s.data = new BunConn(s, unix);
      watch.opened();
      conns.push(s.data);
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
      if (!s.data) return;
      watch.closed();
      s.data.onClose();
    },
    error(s: BunSocket, err: Error) {
      if (s.data) s.data.readable.fail(err);
      else log("error", `socket error: ${err.message}`);
    },
  };
  // For fd 0 Bun's (untyped) {fd} option adopts the inherited listening socket.
  const options = address.kind === "tcp" ? { hostname: address.host, port: address.port, socket }
    : address.kind === "unix" ? { unix: address.path, socket }
    : { fd: address.fd, socket };
  const bind = () => withSocketMode(socketMode, () => Bun.listen(options));
  const listener = address.kind === "unix" ? await bindUnix(address.path, kindOf, bind) : await bind();
  const name = address.kind === "tcp" ? formatAddress({ ...address, port: listener.port ?? address.port }) : formatAddress(address);
  return {
    address: name,
    close: async () => {
      conns.end();
      listener.stop(false); // stop accepting; open connections are drained by the worker
    },
    [Symbol.asyncIterator]: () => conns,
  };
}

/** Starts a FastCGI worker for `app` on this runtime. */
export const serve: (app: App, options?: ServeOptions) => Server = makeServe(listen);
