// Node `net` sockets → the core's Conn/Listener. Also used by Deno for fd 0 (Deno.listen cannot
// adopt a descriptor) and usable on Bun.

import type net from "node:net";
import { formatAddress } from "../core/address.ts";
import { Channel } from "../core/channel.ts";
import type { App, Conn, Listener, Logger, RemoteAddr, ServeOptions, Server } from "../core/types.ts";
import { Accepted } from "./accepted.ts";
import { DescriptorWatch } from "./descriptors.ts";
import {
  byteLength,
  clearStaleSocket,
  type ListenSpec,
  makeServe,
  type PathKind,
  READ_QUEUE_BYTES,
  withSocketMode,
} from "./common.ts";

export class NodeConn implements Conn {
  readonly readable: Channel<Uint8Array>;
  readonly remote: RemoteAddr;
  readonly reusesReadBuffer: boolean;
  #socket: net.Socket;
  #drain: Promise<void> | null = null;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    const family = socket.remoteFamily;
    this.remote = family
      ? { address: socket.remoteAddress ?? "", port: socket.remotePort, family: family === "IPv6" ? "IPv6" : "IPv4" }
      : { address: "", family: "unix" };
    if (family) socket.setNoDelay(true);
    this.readable = new Channel<Uint8Array>(READ_QUEUE_BYTES, {
      size: byteLength,
      onFull: () => socket.pause(),
      onDrain: () => socket.resume(),
      onReturn: () => socket.resume(),
    });
    this.reusesReadBuffer = readIntoShared(socket, this.readable);
    if (!this.reusesReadBuffer) socket.on("data", (chunk: Uint8Array) => this.readable.push(plain(chunk)));
    socket.on("end", () => this.readable.end());
    socket.on("error", (err) => this.readable.fail(err));
    socket.on("close", () => this.readable.end());
    socket.resume(); // accepted paused (pauseOnConnect), so that the read buffer is set first
  }

  // Node calls a write's callback once libuv is done with the bytes, also when the socket was
  // destroyed meanwhile (with an error): either way nothing reads them any more.
  write(chunk: Uint8Array, sent?: () => void): void | Promise<void> {
    const socket = this.#socket;
    if (!socket.writable) return;
    if (socket.write(chunk, sent)) return;
    return this.#waitDrain();
  }

  /** Corked, so that Node hands them to the kernel in one writev. */
  writev(chunks: readonly Uint8Array[], sent?: () => void): void | Promise<void> {
    const socket = this.#socket;
    if (!socket.writable) return;
    socket.cork();
    let room = true;
    const last = chunks.length - 1;
    for (let i = 0; i <= last; i++) room = socket.write(chunks[i], i === last ? sent : undefined);
    socket.uncork();
    if (!room) return this.#waitDrain();
  }

  #waitDrain(): Promise<void> {
    const socket = this.#socket;
    return (this.#drain ??= new Promise<void>((resolve) => {
      const done = () => {
        socket.off("drain", done);
        socket.off("close", done);
        this.#drain = null;
        resolve();
      };
      socket.on("drain", done);
      socket.on("close", done);
    }));
  }

  close(): void {
    this.#socket.end();
  }

  /**
   * The stream's buffer, less the write libuv holds, plus what of it libuv has not written yet:
   * writableLength counts a write until all of it has left, libuv's writeQueueSize falls as it
   * leaves (a large writev goes out over seconds to a slow reader). Without the stream's count
   * of the write in flight this counts it twice, still 0 at the end and falling. Deno's node:net
   * (fd 0) has no writeQueueSize: there it falls as each write completes.
   */
  get unsent(): number {
    const socket = this.#socket;
    const internals = socket as unknown as {
      _handle?: { writeQueueSize?: number } | null;
      _writableState?: { writing?: boolean; writelen?: number };
    };
    const queue = internals._handle?.writeQueueSize;
    if (typeof queue !== "number") return socket.writableLength;
    const state = internals._writableState;
    const inFlight = state?.writing && typeof state.writelen === "number" ? state.writelen : 0;
    return socket.writableLength - inFlight + queue;
  }

  whenReleased(callback: () => void): void {
    if (this.#socket.closed) callback();
    else this.#socket.once("close", callback);
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/**
 * A node:net chunk as a plain Uint8Array over the same bytes. Chunks are Buffers, and
 * Buffer#slice() is a view, not the copy that Uint8Array#slice() makes: a body piece the core
 * "copies" with it kept the whole read (Deno over fd 0 and Bun's node:net: arrayBuffer() of a
 * 10-byte body gave the 335-byte read around it, its records and params). The chunks themselves
 * are fresh per read, so a view of one is the core's to keep.
 */
function plain(chunk: Uint8Array): Uint8Array {
  return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Node allocates a 64 KiB buffer for every read and shrinks it to what arrived: at 64 connections
 * that malloc and the collections its external memory paces cost a fifth of a small request's CPU
 * (bench/PROFILE.md). `onread` (a documented option of client sockets) reads into the caller's
 * buffer instead; a server cannot pass it, so each accepted socket gets the same switch before its
 * first read. One buffer serves every connection: the core takes a chunk inside the push and is
 * done with it when push() returns (it copies what it keeps: `reusesReadBuffer`), before Node
 * reads again. A read that comes while the core is not taking chunks (paused) is queued as a
 * copy. The fields are found by their symbols' names, as net.Socket's constructor sets them;
 * where anything is missing (Bun's and Deno's node:net), Node's own reads are kept.
 */
function readIntoShared(socket: net.Socket, readable: Channel<Uint8Array>): boolean {
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } })._handle;
  if (typeof handle?.useUserBuffer !== "function") return false;
  const symbols = (userBufferSymbols ??= findUserBufferSymbols(socket));
  if (symbols === false) return false;
  const shared = (readBuffer ??= new Uint8Array(READ_BUFFER));
  const fields = socket as unknown as Record<symbol, unknown>;
  fields[symbols.buffer] = shared;
  // Returns nothing: false would stop Node reading.
  fields[symbols.callback] = (n: number) =>
    readable.push(readable.delivering ? shared.subarray(0, n) : shared.slice(0, n));
  handle.useUserBuffer(shared);
  return true;
}

/**
 * net.Socket's user-buffer fields, module-level symbols in Node's net.js and so the same for every
 * socket: looked up with the first connection, not with each (a web server may connect per request).
 */
function findUserBufferSymbols(socket: net.Socket): { buffer: symbol; callback: symbol } | false {
  if (typeof Deno !== "undefined" || process.versions.bun) return false;
  const symbols = Object.getOwnPropertySymbols(socket);
  const buffer = symbols.find((s) => s.description === "kBuffer");
  const callback = symbols.find((s) => s.description === "kBufferCb");
  return buffer && callback ? { buffer, callback } : false;
}

/** What Node reads into at most at once (its own per-read buffers are this size too). */
const READ_BUFFER = 64 * 1024;
let readBuffer: Uint8Array | null = null;
let userBufferSymbols: { buffer: symbol; callback: symbol } | false | undefined;

declare const Deno: unknown;

/**
 * A net.Server as a Listener. Node accepts every connection itself (net.Server cannot stop
 * accepting), so those the worker does not take yet wait unread in `Accepted`, paused as
 * pauseOnConnect hands them over, at most `backlog` of them. `watch` (Node) is told of every
 * connection that opens and closes.
 */
export function serverListener(
  server: net.Server,
  address: string,
  backlog: number,
  log: Logger,
  watch?: DescriptorWatch,
): Listener {
  // A held socket is paused, so it cannot close on its own before it is taken: no `remove`.
  const accepted = new Accepted<net.Socket>(backlog, log, {
    wrap: (socket) => new NodeConn(socket),
    drop: (socket) => socket.destroy(),
  });
  server.on("connection", (socket: net.Socket) => {
    if (watch) {
      watch.opened();
      socket.once("close", watch.closed);
    }
    accepted.push(socket);
  });
  return {
    address,
    close: async () => {
      // Stops accepting now; its callback would wait for every connection, which the worker drains itself.
      server.close();
      accepted.close();
    },
    deliver: (sink) => accepted.deliver(sink),
  };
}

async function kindOf(path: string): Promise<PathKind> {
  try {
    // Not `import fs from "node:fs"`: an ESM import of node:fs reads every export, loading fs/promises,
    // streams and readline (idle RSS on Node 24).
    return process.getBuiltinModule("node:fs").lstatSync(path).isSocket() ? "socket" : "other";
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return "none";
    throw err;
  }
}

export async function listen({ address, socketMode, backlog, log }: ListenSpec): Promise<Listener> {
  // Taken here, not imported: the CLI is one file on every runtime, and node:net costs Bun and Deno
  // idle RSS.
  const server = process.getBuiltinModule("node:net").createServer({ pauseOnConnect: true });
  if (address.kind === "unix") await clearStaleSocket(address.path, kindOf);
  await withSocketMode(socketMode, () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      const options = address.kind === "tcp"
        ? { host: address.host, port: address.port }
        : address.kind === "unix"
        ? { path: address.path }
        : { fd: address.fd };
      // The backlog as an argument: for an inherited fd, which they listen on again, Node and Deno's
      // node:net ignore the option (and use 511 and 512).
      server.listen(options, backlog, () => {
        server.off("error", reject);
        resolve();
      });
    }));
  // Accept errors must not stop the worker: log them; libuv keeps accepting. It never reports
  // EMFILE (it closes the excess itself), which the DescriptorWatch logs instead.
  server.on("error", (err) => log("error", `accept failed: ${err.message}`));
  let name = formatAddress(address);
  const bound = server.address();
  if (address.kind === "tcp" && bound && typeof bound === "object") {
    name = formatAddress({ ...address, port: bound.port });
  }
  return serverListener(server, name, backlog, log, new DescriptorWatch(log));
}

/** Starts a FastCGI worker for `app` on this runtime. */
export const serve: (app: App, options?: ServeOptions) => Server = makeServe(listen);
