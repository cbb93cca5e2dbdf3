// Node and Bun never tell the worker that accept() failed for want of descriptors (EMFILE): libuv
// accepts the excess and closes it at once, Bun's listener retries in a loop. So their adapters
// count open connections and, once enough are open, look at the process's descriptors (/proc, so
// Linux only; elsewhere it stays quiet) and log when the limit is reached. Deno reports EMFILE on
// accept itself and does not need this.

import type { Logger } from "../core/types.ts";

/** Connections open before the first look: a quiet worker never loads node:fs (idle RSS on Bun). */
const FIRST_LOOK = 16;
/** How close to the limit a look makes the next accept look again; below the limit by more, a warning is re-armed. */
const MARGIN = 16;

type Fs = typeof import("node:fs");

export class DescriptorWatch {
  #log: Logger;
  #open = 0;
  /** Open connections at which the next look is due. */
  #lookAt = FIRST_LOOK;
  /** RLIMIT_NOFILE's soft limit; 0 until read, -1 where it cannot be read or is unlimited. */
  #limit = 0;
  #warned = false;

  constructor(log: Logger) {
    this.#log = log;
  }

  opened(): void {
    if (++this.#open >= this.#lookAt) this.#look();
  }

  /** Bound, to be a socket's close listener as it is. */
  readonly closed = (): void => {
    this.#open--;
    // After a warning, look at the next accept: below the limit again re-arms it.
    if (this.#warned && this.#lookAt > this.#open + 1) this.#lookAt = this.#open + 1;
  };

  #look(): void {
    const fs = process.getBuiltinModule("node:fs");
    if (this.#limit === 0) this.#limit = readLimit(fs);
    const limit = this.#limit;
    if (limit < 0) {
      this.#lookAt = Infinity;
      return;
    }
    let used: number;
    try {
      used = fs.readdirSync("/proc/self/fd").length - 1; // less the listing's own descriptor
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== "EMFILE" && code !== "ENFILE") {
        this.#lookAt = Infinity;
        return;
      }
      used = limit; // not even one left to list them with
    }
    // Each new connection takes one descriptor: look again when they could have come within MARGIN.
    this.#lookAt = this.#open + Math.max(1, limit - used - MARGIN);
    if (used < limit) {
      // Re-armed only well below the limit: connections that close and come back one at a time at
      // the limit (the backlog's, on Bun) are the same shortage, not a new one to log each time.
      if (used < limit - MARGIN) this.#warned = false;
      return;
    }
    if (this.#warned) return;
    this.#warned = true;
    this.#log(
      "error",
      `descriptor limit reached (EMFILE): ${used} of ${limit} open (ulimit -n) with ${this.#open} connections; ` +
        "the runtime refuses new connections until some close; keep --max-conns below the limit",
    );
  }
}

/** The soft RLIMIT_NOFILE from /proc/self/limits; -1 if unreadable or unlimited. */
function readLimit(fs: Fs): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync("/proc/self/limits", "latin1"));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}
