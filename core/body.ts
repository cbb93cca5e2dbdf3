// An input stream (STDIN, DATA) with real backpressure: pieces are queued up to `highWaterMark`
// bytes; past that `push` answers false and the connection stops reading until the consumer pulls
// (or cancels), so a slow handler never makes the worker buffer without bound. The consumer
// either reads it as a ReadableStream (`stream`, made on first use) or takes the whole body at
// once (`collect`, for the lazy Request's arrayBuffer(), text(), json() and bytes()): a stream and
// its reader cost a 16 KiB POST on Bun more than copying the bytes.

import { concat } from "./records.ts";

export class BodySource {
  #stream: ReadableStream<Uint8Array> | null = null;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #highWaterMark: number;
  #onDrain: () => void;
  #expected: number; // declared length, -1 if unknown
  #received = 0;
  /** No more input is taken: the body ended, failed or was cancelled. */
  #closed = false;
  #ended = false;
  #failed = false;
  #error: unknown = undefined;
  /** Pieces no stream holds yet, and their bytes. */
  #queue: Uint8Array[] = [];
  #queued = 0;
  #collecting = false;
  #waiter: { resolve: (body: Uint8Array) => void; reject: (reason: unknown) => void } | null = null;
  /** Pieces up to this many bytes may be views into a reused read buffer: queue copies of them. */
  #copyUpTo: number;
  /** The consumer cancelled: further input is dropped. */
  cancelled = false;

  constructor(highWaterMark: number, expected: number, onDrain: () => void, copyUpTo = 0) {
    this.#highWaterMark = highWaterMark;
    this.#onDrain = onDrain;
    this.#copyUpTo = copyUpTo;
    this.#expected = expected;
  }

  /** The body as a ReadableStream, made on first use with what is queued (not after collect()). */
  get stream(): ReadableStream<Uint8Array> {
    return (this.#stream ??= new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#controller = c;
          for (const piece of this.#queue) c.enqueue(piece);
          this.#queue = [];
          this.#queued = 0;
          if (this.#failed) c.error(this.#error);
          else if (this.#ended) c.close();
        },
        pull: () => this.#onDrain(),
        cancel: () => {
          this.cancelled = true;
          this.#closed = true;
          this.#onDrain();
        },
      },
      { highWaterMark: this.#highWaterMark, size: (chunk) => chunk.byteLength },
    ));
  }

  /**
   * The whole body in one buffer the caller owns, once it has all arrived; null if a stream was
   * made or it was collected before. The rest of it is read without backpressure, as a reader
   * reading to the end would.
   */
  collect(): Promise<Uint8Array> | null {
    if (this.#stream !== null || this.#collecting) return null;
    this.#collecting = true;
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(this.#take());
    const body = new Promise<Uint8Array>((resolve, reject) => (this.#waiter = { resolve, reject }));
    this.#onDrain(); // the connection may read on
    return body;
  }

  /** Queues a piece; false when the consumer is full and input should pause. */
  push(piece: Uint8Array): boolean {
    if (this.#closed) return true;
    this.#received += piece.length;
    if (this.#expected >= 0 && this.#received > this.#expected) {
      this.error(new Error(`request body longer than CONTENT_LENGTH ${this.#expected}`));
      return true;
    }
    const kept = piece.length <= this.#copyUpTo ? new Uint8Array(piece) : piece; // not slice(): a Buffer's is a view
    const c = this.#controller;
    if (c !== null) {
      c.enqueue(kept);
      return (c.desiredSize ?? 1) > 0;
    }
    this.#queue.push(kept);
    this.#queued += kept.length;
    return this.#collecting || this.#queued < this.#highWaterMark;
  }

  /** The end-of-stream record: a body shorter than declared is an error (F40, F47). */
  end(): void {
    if (this.#closed) return;
    if (this.#expected >= 0 && this.#received !== this.#expected) {
      this.error(new Error(`request body truncated: ${this.#received} of ${this.#expected} bytes`));
      return;
    }
    this.#closed = true;
    this.#ended = true;
    this.#controller?.close();
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.resolve(this.#take());
  }

  error(reason: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failed = true;
    this.#error = reason;
    this.#queue = [];
    this.#queued = 0;
    this.#controller?.error(reason);
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.reject(reason);
  }

  /** The handler is done with the request: whatever still arrives is dropped (a body that ended stays readable). */
  discard(): void {
    this.cancelled = true;
    // Only a body still open gets the error: making one (its stack trace) costs microseconds.
    if (!this.#closed) this.error(new Error("the response was already sent"));
    this.#onDrain();
  }

  /** No more input is taken (ended, failed or cancelled). */
  get done(): boolean {
    return this.#closed;
  }

  /** The queued pieces as one buffer of their own: a piece copied at push (a whole buffer) is one already. */
  #take(): Uint8Array {
    const queue = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    if (queue.length !== 1) return concat(queue, this.#received);
    const only = queue[0];
    return only.length <= this.#copyUpTo ? only : new Uint8Array(only);
  }
}
