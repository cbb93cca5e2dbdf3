// A single-consumer async queue: adapters push what their runtime delivers (chunks, connections)
// and the core pulls with for-await, or takes each item in a callback as it is pushed (deliver:
// no promise per item). Cheaper than an async generator per item; `onFull`/`onDrain` let an
// adapter pause its socket while the consumer is behind (backpressure on reads).

import type { Source } from "./types.ts";

/** `readable` as a Source: itself if it is one, else its iterator driven one item at a time. */
export function sourceOf<T>(readable: AsyncIterable<T> | Source<T>): Source<T> {
  if ("deliver" in readable) return readable;
  const it = readable[Symbol.asyncIterator]();
  return {
    async deliver(sink) {
      for (;;) {
        const r = await it.next();
        if (r.done) return false;
        let more: boolean;
        try {
          more = sink(r.value);
        } catch (err) {
          await it.return?.(); // as a for-await loop does when its body throws
          throw err;
        }
        if (!more) return true;
      }
    },
  };
}

/**
 * A queue from a push-style runtime to the core: a Conn's `readable` (chunks as the socket's data
 * callback gets them) or the Conns a Listener hands out. Its consumer pulls with for-await, or as
 * a Source takes each item in the push() call. With a high-water mark, `onFull` and `onDrain`
 * pause and resume the socket while the core is behind.
 *
 * @example The readable side of a push-style socket, with backpressure
 * ```ts
 * import { Channel } from "fetchcgi/core";
 * import type { Socket } from "node:net";
 * declare const socket: Socket;
 * const readable = new Channel<Uint8Array>(64 * 1024, {
 *   size: (chunk) => chunk.length, // count bytes, not chunks
 *   onFull: () => socket.pause(),
 *   onDrain: () => socket.resume(),
 * });
 * socket.on("data", (chunk) => readable.push(chunk));
 * socket.on("end", () => readable.end());
 * socket.on("error", (err) => readable.fail(err));
 * ```
 */
export class Channel<T> implements AsyncIterableIterator<T>, Source<T> {
  #queue: T[] = [];
  #waiter: ((r: IteratorResult<T>) => void) | null = null;
  #failWaiter: ((err: unknown) => void) | null = null;
  #sink: ((value: T) => boolean) | null = null;
  /** Settles the promise deliver() returned: true to be called again, false at the end. */
  #delivered: ((more: boolean) => void) | null = null;
  #deliverFailed: ((err: unknown) => void) | null = null;
  /** A sink call is under way: a push from inside it is queued, not handed in re-entrantly. */
  #inSink = false;
  #done = false;
  #error: unknown = null;
  #full = false;
  #highWater: number;
  /** What is queued, in the units of `size` (items, by default). */
  #queued = 0;
  #size?: (value: T) => number;
  #onFull?: () => void;
  #onDrain?: () => void;
  #onReturn?: () => void;

  /**
   * `onFull` is called once what is queued reaches `highWater`, `onDrain` once the consumer has
   * taken it down to half; what is queued is counted in items, or with `size` (bytes, say).
   */
  constructor(
    highWater: number = Infinity,
    hooks: { onFull?: () => void; onDrain?: () => void; onReturn?: () => void; size?: (value: T) => number } = {},
  ) {
    this.#highWater = highWater;
    this.#size = hooks.size;
    this.#onFull = hooks.onFull;
    this.#onDrain = hooks.onDrain;
    this.#onReturn = hooks.onReturn;
  }

  /**
   * A sink is waiting (deliver): an item pushed now is handed over and done with before push()
   * returns, so an adapter may push a view of a buffer it reuses for its next read.
   */
  get delivering(): boolean {
    return this.#sink !== null && !this.#inSink;
  }

  /** Hands `value` to a waiting consumer at once, or queues it; ignored after end(). */
  push(value: T): void {
    if (this.#done) return;
    if (this.#sink && !this.#inSink) {
      this.#give(value);
      return;
    }
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = this.#failWaiter = null;
      waiter({ value, done: false });
      return;
    }
    this.#queue.push(value);
    this.#queued += this.#size ? this.#size(value) : 1;
    if (!this.#full && this.#queued >= this.#highWater) {
      this.#full = true;
      this.#onFull?.();
    }
  }

  /** No more items: the consumer gets what is queued, then done. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    const waiter = this.#waiter;
    this.#waiter = this.#failWaiter = null;
    waiter?.({ value: undefined, done: true });
    if (this.#sink && this.#queue.length === 0) this.#settle(false); // else the sink's loop hands over the rest first
  }

  /** Ends with an error, thrown to the consumer after what is queued. */
  fail(err: unknown): void {
    if (this.#done) return;
    this.#error = err;
    this.#done = true;
    const fail = this.#failWaiter;
    this.#waiter = this.#failWaiter = null;
    fail?.(err);
    if (this.#sink && this.#queue.length === 0) this.#settle(false, err);
  }

  /**
   * Hands each item to `sink` as it is pushed, in the pusher's call, what is queued first. The
   * promise resolves true once the sink returns false (later items queue, as for next(), until
   * deliver is called again), false once the channel has ended and everything was handed over;
   * it rejects with the channel's error, or with what the sink threw (the channel then stops,
   * as a for-await loop would).
   */
  deliver(sink: (value: T) => boolean): Promise<boolean> {
    const done = new Promise<boolean>((resolve, reject) => {
      this.#delivered = resolve;
      this.#deliverFailed = reject;
    });
    this.#sink = sink;
    this.#drainToSink();
    return done;
  }

  #give(value: T): void {
    this.#inSink = true;
    let more: boolean;
    try {
      more = this.#sink!(value);
    } catch (err) {
      this.#inSink = false;
      this.#settle(false, err);
      this.return();
      return;
    }
    this.#inSink = false;
    if (!more) this.#settle(true);
    else if (this.#queue.length > 0 || this.#done) this.#drainToSink(); // pushed from inside the sink, or ended there
  }

  /** Gives what is queued to the sink while it takes more; settles at the end. */
  #drainToSink(): void {
    while (this.#sink && this.#queue.length > 0) this.#give(this.#take());
    if (this.#sink && this.#done) this.#settle(false, this.#error);
  }

  /** Ends a deliver(): resolves it with `more`, or rejects it with `err` if there is one. */
  #settle(more: boolean, err: unknown = null): void {
    const resolve = this.#delivered;
    const reject = this.#deliverFailed;
    this.#sink = this.#delivered = this.#deliverFailed = null;
    if (err !== null) reject?.(err);
    else resolve?.(more);
  }

  #take(): T {
    const value = this.#queue.shift()!;
    this.#queued -= this.#size ? this.#size(value) : 1;
    if (this.#full && this.#queued <= this.#highWater / 2) {
      this.#full = false;
      this.#onDrain?.();
    }
    return value;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#queue.length > 0) return Promise.resolve({ value: this.#take(), done: false });
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#failWaiter = reject;
    });
  }

  /** The consumer stopped (break out of for-await). */
  return(): Promise<IteratorResult<T>> {
    this.#done = true;
    if (this.#sink) this.#settle(false);
    this.#queue = [];
    this.#queued = 0;
    this.#onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
