// The output a socket has not taken yet, for the adapters whose sockets do not buffer it: Bun's
// write() takes what the kernel has room for and returns the count (a later write while the kernel
// is full drops data), and Deno's write is an async op that may take part of a chunk. Each adapter
// pumps the queue its own way; the queue keeps the order, each chunk's `sent` callback, the
// count behind Conn.unsent and the promise a writer waits on.

/** Chunks in write order, with what is left of the first one once a socket took part of it. */
export class WriteQueue {
  #chunks: Uint8Array[] = [];
  /** Each queued chunk's `sent` callback, or undefined. */
  #sent: ((() => void) | undefined)[] = [];
  #bytes = 0;
  #drain: Promise<void> | null = null;
  #drained: (() => void) | null = null;

  /** Bytes queued: what the socket has not taken (Conn.unsent); falls as it takes part of a chunk. */
  get bytes(): number {
    return this.#bytes;
  }

  get empty(): boolean {
    return this.#chunks.length === 0;
  }

  /** The next bytes to write (after a partial write, the rest of a chunk). */
  get first(): Uint8Array {
    return this.#chunks[0];
  }

  push(chunk: Uint8Array, sent: (() => void) | undefined): void {
    this.#chunks.push(chunk);
    this.#sent.push(sent);
    this.#bytes += chunk.length;
  }

  /**
   * The socket took `n` bytes of `first`. Returns true once it took all of it: the chunk leaves
   * the queue and its `sent` is called. A partial write keeps a view of the rest (the only view
   * made). After clear() (the socket closed while a write was under way) it does nothing.
   */
  took(n: number): boolean {
    const chunks = this.#chunks;
    if (chunks.length === 0) return false;
    this.#bytes -= n;
    const chunk = chunks[0];
    if (n < chunk.length) {
      chunks[0] = chunk.subarray(n);
      return false;
    }
    chunks.shift();
    this.#sent.shift()?.();
    return true;
  }

  /** Drops everything queued (the socket is gone) and lets a waiting writer go. */
  clear(): void {
    this.#chunks = [];
    this.#sent = [];
    this.#bytes = 0;
    this.notifyDrained();
  }

  /** What write() hands back for backpressure: one promise for every writer, settled by notifyDrained(). */
  whenDrained(): Promise<void> {
    return (this.#drain ??= new Promise<void>((resolve) => (this.#drained = resolve)));
  }

  /** The socket has room again: lets the writers waiting on whenDrained() go. */
  notifyDrained(): void {
    const drained = this.#drained;
    this.#drain = this.#drained = null;
    drained?.();
  }
}
