// A Conn backed by memory, to drive the core's Connection in-process through its own seam: fast
// enough to run hundreds of property cases, and every byte the worker writes is kept.

import { Channel } from "../../core/channel.ts";
import type { Conn } from "../../core/types.ts";

/**
 * Hands every chunk out in one reused buffer and scribbles over it once the core is done with it
 * (the sink returned, or the next chunk is asked for), as the Deno adapter reads: whatever the
 * core kept as a view then reads as 0xee.
 */
class ReusedBufferChannel extends Channel<Uint8Array> {
  #buf = new Uint8Array(0);
  #used = 0;
  override async next(): Promise<IteratorResult<Uint8Array>> {
    this.#scribble();
    const r = await super.next();
    return r.done ? r : { value: this.#reuse(r.value), done: false };
  }
  override deliver(sink: (chunk: Uint8Array) => boolean): Promise<boolean> {
    return super.deliver((chunk) => {
      const more = sink(this.#reuse(chunk));
      this.#scribble(); // a delivered chunk is valid only until the sink returns
      return more;
    });
  }
  #scribble(): void {
    this.#buf.fill(0xee, 0, this.#used);
  }
  #reuse(chunk: Uint8Array): Uint8Array {
    const n = chunk.length;
    if (n > this.#buf.length) this.#buf = new Uint8Array(n * 2);
    this.#buf.set(chunk);
    this.#used = n;
    return this.#buf.subarray(0, n);
  }
}

export class MemoryConn implements Conn {
  readonly readable: Channel<Uint8Array>;
  readonly reusesReadBuffer: boolean;
  writes: Uint8Array[] = [];
  closed = false;
  /** When set, write() answers with this promise: the socket is full. */
  full: Promise<void> | null = null;
  constructor(opts: { reuseReadBuffer?: boolean } = {}) {
    this.reusesReadBuffer = opts.reuseReadBuffer === true;
    this.readable = this.reusesReadBuffer ? new ReusedBufferChannel() : new Channel<Uint8Array>();
  }
  write(chunk: Uint8Array): void | Promise<void> {
    this.writes.push(chunk.slice()); // the core may reuse its buffers
    return this.full ?? undefined;
  }
  close(): void {
    this.closed = true;
    this.readable.end();
  }
  destroy(): void {
    this.close();
  }
  get output(): Uint8Array {
    return Buffer.concat(this.writes);
  }
}

/** Waits until `done()` holds, checking after each macrotask, or fails after `ms`. */
export async function settle(done: () => boolean, ms = 2000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) throw new Error("timed out waiting for the connection");
    await new Promise((r) => setImmediate(r));
  }
}
