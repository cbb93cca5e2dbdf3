// What every runtime's serve() shares: options, the fd-0 default, Unix socket files (stale ones
// replaced, live ones refused, permissions (660 by default) set before the first connection can
// arrive), and one form for every listen failure (listen-errors.ts).
// node:fs and node:net are loaded only on the paths that need them: on Bun and Deno each costs
// idle RSS (bench/RESULTS.md, idle table). `process` is the global all three provide.

import { parseAddress, parseMode } from "../core/address.ts";
import { integerOption, OPTIONS } from "../core/options.ts";
import { defaultLogger, startServer } from "../core/worker.ts";
import type { Address, App, Listener, Logger, ServeOptions, Server } from "../core/types.ts";
import { checkBeforeListen, explainListenFailure, ListenError, notASocket, socketInUse } from "./listen-errors.ts";

/**
 * Bytes a connection's read queue (Node, Bun: the runtime pushes) may hold before the adapter
 * pauses the socket. It fills only while the core has stopped reading, when a handler's body
 * buffer (--body-buffer) is full, so past that a paused connection holds this plus the read in
 * hand: Node reads 64 KiB at a time, Bun up to 512 KiB. Counted in chunks, the bound would
 * follow each runtime's read size.
 */
export const READ_QUEUE_BYTES: number = 64 * 1024;
export const byteLength = (chunk: Uint8Array): number => chunk.length;

export interface ListenSpec {
  address: Address;
  socketMode?: number;
  backlog: number;
  log: Logger;
}

export type ListenFn = (spec: ListenSpec) => Promise<Listener>;

/** A Unix socket's mode when none is given: owner and group (the web server's) may connect, others not. */
export const DEFAULT_SOCKET_MODE = OPTIONS.socketMode.default as number;

/** Builds a runtime's serve() from its listen(); every listen failure becomes a ListenError. */
export function makeServe(listen: ListenFn): (app: App, options?: ServeOptions) => Server {
  return (app, options = {}) => {
    const log: Logger = options.log ?? defaultLogger;
    let address: Address;
    if (options.listen !== undefined) address = parseAddress(options.listen);
    else if (stdinIsSocket()) address = { kind: "fd", fd: 0 };
    else {throw new TypeError(
        "fetchcgi: no listen address given and fd 0 is not a socket: give one, e.g. 127.0.0.1:9000 (--listen, or serve()'s listen option)",
      );}
    if (options.socketMode !== undefined && address.kind !== "unix") {
      throw new TypeError("fetchcgi: socketMode applies only to a Unix socket path");
    }
    const socketMode = address.kind !== "unix"
      ? undefined
      : options.socketMode === undefined
      ? DEFAULT_SOCKET_MODE
      : parseMode(options.socketMode);
    const backlog = integerOption(options, "backlog");
    return startServer(app, () => listenExplained(listen, { address, socketMode, backlog, log }), { ...options, log });
  };
}

async function listenExplained(listen: ListenFn, spec: ListenSpec): Promise<Listener> {
  const { address, socketMode } = spec;
  try {
    checkBeforeListen(address);
    if (socketMode === undefined || address.kind !== "unix" || umaskAllowed()) return await listen(spec);
    // Deno without --allow-sys: the mode is set just after binding (Deno.listen listens at once), so
    // for that instant the socket has the umask's mode (umask 022: only the owner may connect).
    const listener = await listen({ ...spec, socketMode: undefined });
    try {
      await deno!.chmod(address.path, socketMode);
    } catch (err) {
      await listener.close();
      throw err;
    }
    return listener;
  } catch (err) {
    throw explainListenFailure(err, address);
  }
}

interface DenoUmask {
  umask(mask?: number): number;
  chmod(path: string, mode: number): Promise<void>;
  permissions: { querySync(descriptor: { name: "sys"; kind: string }): { state: string } };
}
const deno = (globalThis as { Deno?: DenoUmask }).Deno;

/**
 * Deno sets the umask only with --allow-sys, and would prompt for it on a terminal: ask first.
 * Deno.umask, not process.umask: touching Deno's `process` costs idle RSS.
 */
const umaskAllowed = (): boolean =>
  !deno || deno.permissions.querySync({ name: "sys", kind: "umask" }).state === "granted";
const umask = (mask: number): number => (deno ? deno.umask(mask) : process.umask(mask));

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
  if (kind === "other") throw notASocket(path);
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
      else {reject(
          new ListenError(
            { kind: "unix", path },
            `a socket is there that it cannot probe: ${err.message}`,
            "remove it if no process uses it, or choose another path",
            { code: err.code, cause: err },
          ),
        );}
    });
  });
  if (live) throw socketInUse(path);
  const { default: fs } = await import("node:fs");
  fs.unlinkSync(path);
}

/**
 * Binds a Unix socket at `path` with `bind`, and only when the path is taken makes way with
 * clearStaleSocket() and binds again. Not looking first spares Bun and Deno a stat: the first one
 * starts their file I/O machinery, which costs idle RSS.
 */
export async function bindUnix<T>(
  path: string,
  kindOf: (path: string) => Promise<PathKind>,
  bind: () => T | Promise<T>,
): Promise<T> {
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
  const previous = umask(~mode & 0o777);
  try {
    return await bind();
  } finally {
    umask(previous);
  }
}
