// An input stream (STDIN, DATA) as a ReadableStream with real backpressure: pieces are queued up
// to `highWaterMark` bytes; past that `push` answers false and the connection stops reading until
// the consumer pulls (or cancels), so a slow handler never makes the worker buffer without bound.

export class BodySource {
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #onDrain: () => void;
  #expected: number; // declared length, -1 if unknown
  #received = 0;
  #closed = false;
  /** Pieces up to this many bytes may be views into a reused read buffer: queue copies of them. */
  #copyUpTo: number;
  /** The consumer cancelled: further input is dropped. */
  cancelled = false;

  constructor(highWaterMark: number, expected: number, onDrain: () => void, copyUpTo = 0) {
    this.#onDrain = onDrain;
    this.#copyUpTo = copyUpTo;
    this.#expected = expected;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#controller = c;
        },
        pull: () => this.#onDrain(),
        cancel: () => {
          this.cancelled = true;
          this.#closed = true;
          this.#onDrain();
        },
      },
      { highWaterMark, size: (chunk) => chunk.byteLength },
    );
  }

  /** Queues a piece; false when the consumer is full and input should pause. */
  push(piece: Uint8Array): boolean {
    if (this.#closed) return true;
    this.#received += piece.length;
    if (this.#expected >= 0 && this.#received > this.#expected) {
      this.error(new Error(`request body longer than CONTENT_LENGTH ${this.#expected}`));
      return true;
    }
    this.#controller.enqueue(piece.length <= this.#copyUpTo ? piece.slice() : piece);
    return (this.#controller.desiredSize ?? 1) > 0;
  }

  /** The end-of-stream record: a body shorter than declared is an error (F40, F47). */
  end(): void {
    if (this.#closed) return;
    if (this.#expected >= 0 && this.#received !== this.#expected) {
      this.error(new Error(`request body truncated: ${this.#received} of ${this.#expected} bytes`));
      return;
    }
    this.#closed = true;
    this.#controller.close();
  }

  error(reason: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#controller.error(reason);
  }

  /** The handler is done with the request: drop what is queued and whatever still arrives. */
  discard(): void {
    this.cancelled = true;
    // Only a stream still open gets the error: making one (its stack trace) costs microseconds.
    if (!this.#closed) this.error(new Error("the response was already sent"));
    this.#onDrain();
  }

  get done(): boolean {
    return this.#closed;
  }
}
