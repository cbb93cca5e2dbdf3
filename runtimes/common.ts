// What every runtime's serve() shares: options, the fd-0 default, Unix socket files (stale ones
// replaced, live ones refused, permissions set before the first connection can arrive).
// node:fs and node:net are loaded only on the paths that need them: on Bun and Deno each costs
// 4-6 MiB of idle RSS (bench/RESULTS.md, idle table). `process` is the global all three provide.

import { type Address, parseAddress, parseMode } from "../core/address.ts";
import { defaultLogger, startServer, type Server } from "../core/worker.ts";
import type { App, Listener, Logger, WorkerOptions } from "../core/types.ts";

/**
 * Bytes a connection's read queue (Node, Bun: the runtime pushes) may hold before the adapter
 * pauses the socket. It fills only while the core has stopped reading, when a handler's body
 * buffer (--body-buffer) is full, so past that a paused connection holds this plus the read in
 * hand: Node reads 64 KiB at a time, Bun up to 512 KiB. Counted in chunks (16) it was 1 MiB more
 * on Node and 4 MiB more on Bun.
 */
export const READ_QUEUE_BYTES: number = 64 * 1024;
export const byteLength = (chunk: Uint8Array): number => chunk.length;

export interface ServeOptions extends WorkerOptions {
  /**
   * Where to listen: `tcp:HOST:PORT`, `HOST:PORT`, `[::1]:PORT`, `:PORT` (127.0.0.1), `unix:PATH`,
   * an absolute path, or `fd:0`. Default: fd 0 when it is a socket (spawned by a web server,
   * FCGI_LISTENSOCK_FILENO), else an error.
   */
  listen?: string;
  /** Permissions of a Unix socket file, like "660"; applied before it accepts. Default: from the umask. */
  socketMode?: string | number;
}

export interface ListenSpec {
  address: Address;
  socketMode?: number;
  log: Logger;
}

export type ListenFn = (spec: ListenSpec) => Promise<Listener>;

/** Builds a runtime's serve() from its listen(). */
export function makeServe(listen: ListenFn): (app: App, options?: ServeOptions) => Server {
  return (app, options = {}) => {
    const log: Logger = options.log ?? defaultLogger;
    let address: Address;
    if (options.listen !== undefined) address = parseAddress(options.listen);
    else if (stdinIsSocket()) address = { kind: "fd", fd: 0 };
    else throw new TypeError("fetchcgi: no listen address given and fd 0 is not a socket; pass listen: \"127.0.0.1:9000\" or similar");
    const socketMode = options.socketMode === undefined ? undefined : parseMode(options.socketMode);
    if (socketMode !== undefined && address.kind !== "unix") throw new TypeError("fetchcgi: socketMode applies only to a Unix socket path");
    return startServer(app, () => listen({ address, socketMode, log }), { ...options, log });
  };
}

/** fd 0 is a socket: the web server spawned us with a listening socket there (F1). */
export function stdinIsSocket(): boolean {
  try {
    return process.getBuiltinModule("node:fs").fstatSync(0).isSocket();
  } catch {
    return false;
  }
}

/** What is at a path, as far as a Unix socket there is concerned. */
export type PathKind = "none" | "socket" | "other";

/**
 * Makes way for a Unix socket at `path`: nothing there is fine; a socket file nobody listens on
 * (left by a dead worker) is removed; a live socket or any other file is an error. `kindOf` is the
 * adapter's cheapest look at the path; the probe and the removal load node:net and node:fs.
 */
export async function clearStaleSocket(path: string, kindOf: (path: string) => Promise<PathKind>): Promise<void> {
  const kind = await kindOf(path);
  if (kind === "none") return;
  if (kind === "other") throw new Error(`fetchcgi: ${path} exists and is not a socket; not replacing it`);
  const { default: net } = await import("node:net");
  const live = await new Promise<boolean>((resolve, reject) => {
    const probe = net.connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", (err: Error & { code?: string }) => {
      probe.destroy();
      if (err.code === "ECONNREFUSED" || err.code === "ENOENT") resolve(false);
      else reject(new Error(`fetchcgi: cannot check socket ${path}: ${err.message}`));
    });
  });
  if (live) throw new Error(`fetchcgi: ${path} is in use by a running process`);
  const { default: fs } = await import("node:fs");
  fs.unlinkSync(path);
}

/**
 * Binds a Unix socket at `path` with `bind`, and only when the path is taken makes way with
 * clearStaleSocket() and binds again. Not looking first spares Bun and Deno a stat: the first one
 * starts their file I/O machinery, 1.2-1.6 MiB of idle RSS.
 */
export async function bindUnix<T>(path: string, kindOf: (path: string) => Promise<PathKind>, bind: () => T | Promise<T>): Promise<T> {
  try {
    return await bind();
  } catch (err) {
    if ((err as { code?: string }).code !== "EADDRINUSE") throw err;
  }
  await clearStaleSocket(path, kindOf);
  return bind();
}

/** Conn.whenReleased for an adapter that knows when its socket is gone: one callback, called once. */
export class ReleaseHook {
  #released = false;
  #callback: (() => void) | null = null;

  when(callback: () => void): void {
    if (this.#released) callback();
    else this.#callback = callback;
  }

  release(): void {
    this.#released = true;
    const callback = this.#callback;
    this.#callback = null;
    callback?.();
  }
}

/** Runs `bind` with a umask that gives a new socket file exactly `mode`; restored when `bind` settles. */
export async function withSocketMode<T>(mode: number | undefined, bind: () => T | Promise<T>): Promise<T> {
  if (mode === undefined) return bind();
  const previous = process.umask(~mode & 0o777);
  try {
    return await bind();
  } finally {
    process.umask(previous);
  }
}
