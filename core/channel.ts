// A single-consumer async queue: adapters push what their runtime delivers (chunks, connections)
// and the core pulls with for-await. Cheaper than an async generator per item; `onFull`/`onDrain`
// let an adapter pause its socket while the consumer is behind (backpressure on reads).

export class Channel<T> implements AsyncIterableIterator<T> {
  #queue: T[] = [];
  #waiter: ((r: IteratorResult<T>) => void) | null = null;
  #failWaiter: ((err: unknown) => void) | null = null;
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

  /** The consumer is waiting for the next item: one pushed now is taken at once, not queued. */
  get waiting(): boolean {
    return this.#waiter !== null;
  }

  push(value: T): void {
    if (this.#done) return;
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
  }

  /** Ends with an error, thrown to the consumer after what is queued. */
  fail(err: unknown): void {
    if (this.#done) return;
    this.#error = err;
    this.#done = true;
    const fail = this.#failWaiter;
    this.#waiter = this.#failWaiter = null;
    fail?.(err);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#queue.length > 0) {
      const value = this.#queue.shift()!;
      this.#queued -= this.#size ? this.#size(value) : 1;
      if (this.#full && this.#queued <= this.#highWater / 2) {
        this.#full = false;
        this.#onDrain?.();
      }
      return Promise.resolve({ value, done: false });
    }
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
    this.#queue = [];
    this.#queued = 0;
    this.#onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
