// Reusable buffers for output too large for a slab (slab.ts): a large body framed as records
// (framed.ts: the copy a lazy Response takes of a bytes body, a long text body as UTF-8), and the
// record buffer of a larger flush. Filling a buffer is cheap; a fresh one per response is not: on
// Node 24 a new buffer each time more than doubled a 256 KiB body's cost (page faults, malloc's
// trims, GCs paced by external memory) against a warm one. A buffer comes back only
// when the socket no longer holds it (Conn.write's `sent`), and never reaches the app: one that
// does (the app read the body) is simply not given back.

/**
 * From 4 KiB (the largest slab cut) up to 4 MiB, in sizes of 2^k and 1.5 × 2^k: a framed body of
 * 256 KiB needs a little more than 256 KiB, and whole powers of two would make it take 512.
 */
const MIN_SHIFT = 12;
const MAX_SHIFT = 22;
const CLASSES = 2 * (MAX_SHIFT - MIN_SHIFT) + 1;
/**
 * Free bytes kept across all sizes: enough for 64 responses of 256 KiB in flight (each framed in a
 * buffer of 384 KiB). When it is full, a buffer given back takes the place of one of the size that
 * holds most, so that a size that filled it once (a burst of large bodies) cannot keep the sizes
 * in use now from being reused.
 */
const MAX_FREE = 24 * 1024 * 1024;

const free: ArrayBuffer[][] = Array.from({ length: CLASSES }, () => []);
let freeBytes = 0;
/** Buffers lent and not given back: a second giveBack of one (a bug) must not hand it out twice. */
const lent = new WeakSet<ArrayBuffer>();

/** The smallest size class that holds n bytes (n within the pool's range): 2^k at 2k, 1.5 × 2^k at 2k + 1, from 2^MIN_SHIFT. */
function classOf(n: number): number {
  const shift = 32 - Math.clz32(n - 1); // the least 2^shift ≥ n
  if (shift <= MIN_SHIFT) return 0;
  return 2 * (shift - MIN_SHIFT) - (n <= 3 << (shift - 2) ? 1 : 0);
}

function sizeOf(c: number): number {
  return c % 2 === 0 ? 1 << (MIN_SHIFT + c / 2) : 3 << (MIN_SHIFT + (c - 1) / 2 - 1);
}

/** A buffer of exactly `n` bytes with unspecified contents, or null when n is outside the pool's range. */
export function lend(n: number): Uint8Array | null {
  if (n < 1 << MIN_SHIFT || n > 1 << MAX_SHIFT) return null;
  const c = classOf(n);
  let buffer = free[c].pop();
  if (buffer === undefined) buffer = new ArrayBuffer(sizeOf(c));
  else freeBytes -= buffer.byteLength;
  lent.add(buffer);
  return new Uint8Array(buffer, 0, n);
}

/** Takes back a buffer from lend() that nothing reads any more. */
export function giveBack(view: Uint8Array): void {
  const buffer = view.buffer as ArrayBuffer;
  if (!lent.delete(buffer)) return;
  const c = classOf(buffer.byteLength);
  while (freeBytes + buffer.byteLength > MAX_FREE) {
    let fullest = -1; // the other size with the most free bytes
    for (let i = 0; i < free.length; i++) {
      if (
        i !== c && free[i].length > 0 &&
        (fullest < 0 || free[i].length * sizeOf(i) > free[fullest].length * sizeOf(fullest))
      ) fullest = i;
    }
    if (fullest < 0) return; // only this size is kept: this one is left to the GC
    freeBytes -= free[fullest].pop()!.byteLength;
  }
  freeBytes += buffer.byteLength;
  free[c].push(buffer);
}
