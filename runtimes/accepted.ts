// The connections of a runtime that accepts on its own (Node, Bun: neither can stop its listener
// accepting), as the Source the worker pulls. While the worker takes no more (at --max-conns)
// they are held here, unread, in arrival order, as the kernel's listen queue would hold them, and
// made into a Conn only when taken: a held connection costs its descriptor and nothing else.
// Past `limit` held (--backlog) a new one is closed, as a full listen queue would refuse it.

import type { Conn, Logger, Source } from "../core/types.ts";

export interface AcceptedHooks<S> {
  /** Makes the Conn the worker takes; `held` if the socket waited (and was paused by `hold`). */
  wrap(socket: S, held: boolean): Conn;
  /** The socket is to wait: stop it reading, where the runtime reads before asked. */
  hold?(socket: S): void;
  /** Closes a socket that will not be served. */
  drop(socket: S): void;
}

export class Accepted<S> implements Source<Conn> {
  #held: S[] = [];
  #hooks: AcceptedHooks<S>;
  #limit: number;
  #log: Logger;
  #sink: ((conn: Conn) => boolean) | null = null;
  #settle: ((more: boolean) => void) | null = null;
  #closed = false;
  /** A refusal (past `limit`) was logged; logged again once nothing is held. */
  #refusedLogged = false;

  constructor(limit: number, log: Logger, hooks: AcceptedHooks<S>) {
    this.#limit = limit;
    this.#log = log;
    this.#hooks = hooks;
  }

  /** A connection the runtime accepted. */
  push(socket: S): void {
    if (this.#closed) return this.#hooks.drop(socket);
    if (this.#sink !== null) return this.#give(this.#hooks.wrap(socket, false));
    if (this.#held.length >= this.#limit) {
      if (!this.#refusedLogged) {
        this.#refusedLogged = true;
        this.#log("warn", `connection refused: ${this.#limit} connections already wait for the worker (--backlog)`);
      }
      return this.#hooks.drop(socket);
    }
    this.#hooks.hold?.(socket);
    this.#held.push(socket);
  }

  /** A held connection closed before it was taken. */
  remove(socket: S): void {
    const i = this.#held.indexOf(socket);
    if (i >= 0) this.#held.splice(i, 1);
  }

  /** Hands over what is held, then each connection as it is accepted, while `sink` returns true. */
  deliver(sink: (conn: Conn) => boolean): Promise<boolean> {
    const held = this.#held;
    while (held.length > 0) {
      if (!sink(this.#hooks.wrap(held.shift()!, true))) return Promise.resolve(true);
    }
    this.#refusedLogged = false;
    if (this.#closed) return Promise.resolve(false);
    this.#sink = sink;
    return new Promise((resolve) => (this.#settle = resolve));
  }

  #give(conn: Conn): void {
    if (this.#sink!(conn)) return;
    this.#end(true);
  }

  #end(more: boolean): void {
    const settle = this.#settle;
    this.#sink = this.#settle = null;
    settle?.(more);
  }

  /** The listener closed: what is held is closed (as a closed listen queue's connections are reset). */
  close(): void {
    this.#closed = true;
    for (const socket of this.#held.splice(0)) this.#hooks.drop(socket);
    this.#end(false);
  }
}
