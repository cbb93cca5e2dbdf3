// A Conn backed by memory, to drive the core's Connection in-process through its own seam: fast
// enough to run hundreds of property cases, and every byte the worker writes is kept.

import { Channel } from "../../core/channel.ts";
import type { Conn } from "../../core/types.ts";

export class MemoryConn implements Conn {
  readonly readable: Channel<Uint8Array> = new Channel<Uint8Array>();
  writes: Uint8Array[] = [];
  closed = false;
  /** When set, write() answers with this promise: the socket is full. */
  full: Promise<void> | null = null;
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
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the connection");
    await new Promise((r) => setImmediate(r));
  }
}
