// A connection on its way out: our side is closed (or the peer's is), and the socket is destroyed
// only once what was written has left. Destroying it earlier drops the queued tail of the last
// response: cgi-fcgi, which reads 8 KiB at a time behind its own slow stdout, got only part of a large one.

import type { Conn, Logger, RemoteAddr } from "./types.ts";

/** How long a closed connection waits in silence for the peer to close its side too. */
export const LINGER_MS = 2000;

export interface ClosingSettings {
  /** Milliseconds the peer may take none of what is still to be sent before the connection is dropped; 0: no bound. */
  readonly flushTimeout: number;
  readonly log: Logger;
}

/**
 * Destroys `conn`, whose side is closed (close() was called), once everything written has been
 * handed to the kernel (`conn.unsent` is 0) and then the peer has been quiet for LINGER_MS, or
 * has ended: closing a socket with unread input resets it, and the reset discards what the peer
 * has received but not read yet. It gives up on a peer that takes none of what is left for
 * flushTimeout ms (it stopped reading) and destroys the connection anyway, with a log line.
 * It holds only the Conn, not the Connection, and lets go once the socket is released: a timer
 * held for the whole linger moves what it holds into V8's old generation (docs/reliability.md).
 */
export class Closing {
  #conn: Conn;
  #settings: ClosingSettings;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** How often it checks: a quarter of flushTimeout, at most LINGER_MS. */
  #period: number;
  #checkedAt = performance.now();
  /** When input last arrived, or when the output was seen all sent. */
  #quietFrom = this.#checkedAt;
  #unsent: number;
  /** Milliseconds of checks that saw nothing leave, since something last did. */
  #stalled = 0;
  #ended = false;
  #released = false;

  constructor(conn: Conn, settings: ClosingSettings) {
    this.#conn = conn;
    this.#settings = settings;
    this.#unsent = conn.unsent ?? 0;
    const { flushTimeout } = settings;
    this.#period = flushTimeout > 0 ? Math.min(LINGER_MS, Math.ceil(flushTimeout / 4)) : LINGER_MS;
    this.#arm(this.#period);
    conn.whenReleased?.(() => {
      this.#released = true;
      clearTimeout(this.#timer);
    });
  }

  /** Input arrived (and was dropped): the peer is not quiet. */
  heard(): void {
    this.#quietFrom = performance.now();
  }

  /** The peer's EOF: nothing more will arrive, so no quiet to wait for. */
  ended(): void {
    this.#ended = true;
  }

  #check = (): void => {
    const conn = this.#conn;
    const now = performance.now();
    // A check that comes late tells of a busy worker (a handler computing, as a 64 MiB body is),
    // which wrote nothing meanwhile, not of a peer that reads nothing: at most a period counts.
    const waited = Math.min(now - this.#checkedAt, this.#period);
    this.#checkedAt = now;
    const unsent = conn.unsent ?? 0;
    if (unsent < this.#unsent) {
      this.#unsent = unsent;
      this.#stalled = 0;
      if (unsent === 0) this.#quietFrom = Math.max(this.#quietFrom, now); // the linger starts now
    } else if (unsent > 0) {
      this.#stalled += waited;
    }
    if (unsent === 0) {
      const quiet = now - this.#quietFrom;
      if (this.#ended || quiet >= LINGER_MS) return conn.destroy();
      return this.#arm(LINGER_MS - quiet);
    }
    const { flushTimeout, log } = this.#settings;
    if (flushTimeout > 0 && this.#stalled >= flushTimeout) {
      log(
        "warn",
        `closing connection${
          peer(conn.remote)
        }: the web server took none of the last ${unsent} bytes in ${flushTimeout} ms (flushTimeout)`,
      );
      return conn.destroy();
    }
    this.#arm(this.#period);
  };

  #arm(ms: number): void {
    if (this.#released) return;
    clearTimeout(this.#timer);
    this.#timer = unref(setTimeout(this.#check, ms));
  }
}

const unrefTimer = (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer;

/**
 * A timer that does not by itself keep the process alive: an open socket does, and a worker whose
 * server has closed may exit without waiting out a linger. Node and Bun timers are objects with
 * unref(); Deno's are numbers, unref'd with Deno.unrefTimer.
 */
export function unref<T>(timer: T): T {
  if (typeof timer === "number") unrefTimer?.(timer);
  else (timer as { unref?: () => void }).unref?.();
  return timer;
}

/** " from ADDR:PORT" for log lines; "" when the peer is unknown. */
export function peer(remote: RemoteAddr | undefined): string {
  if (!remote) return "";
  return remote.family === "unix"
    ? ` from ${remote.address || "unix socket"}`
    : ` from ${remote.address}:${remote.port}`;
}
