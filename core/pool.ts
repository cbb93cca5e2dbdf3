// Reusable buffers for output too large for a slab (slab.ts): the copy a lazy Response takes of a
// bytes body (the Fetch API copies it at construction), a long text body as UTF-8, and the record
// buffer of a larger response. Filling a buffer is cheap; a fresh one per response is not: on
// Node 24 a 256 KiB body cost 300 µs/request with a new buffer each time (page faults, malloc's
// trims, GCs paced by external memory) and 130 µs with a warm one. A buffer comes back only
// when the socket no longer holds it (Conn.write's `sent`), and never reaches the app: one that
// does (the app read the body) is simply not given back.

/** From 4 KiB (the largest slab cut) up to 4 MiB. */
const MIN_SHIFT = 12;
const MAX_SHIFT = 22;
/**
 * Free bytes kept across all sizes: enough for 64 responses of 256 KiB in flight. When it is full,
 * a buffer given back takes the place of one of the size that holds most, so that a size that
 * filled it once (a burst of large bodies) cannot keep the sizes in use now from being reused.
 */
const MAX_FREE = 16 * 1024 * 1024;

const free: ArrayBuffer[][] = Array.from({ length: MAX_SHIFT - MIN_SHIFT + 1 }, () => []);
let freeBytes = 0;
/** Buffers lent and not given back: a second giveBack of one (a bug) must not hand it out twice. */
const lent = new WeakSet<ArrayBuffer>();

/** The smallest size class that holds n bytes (n within the pool's range). */
function classOf(n: number): number {
  return Math.max(MIN_SHIFT, 32 - Math.clz32(n - 1)) - MIN_SHIFT;
}

/** A buffer of exactly `n` bytes with unspecified contents, or null when n is outside the pool's range. */
export function lend(n: number): Uint8Array | null {
  if (n < 1 << MIN_SHIFT || n > 1 << MAX_SHIFT) return null;
  const c = classOf(n);
  let buffer = free[c].pop();
  if (buffer === undefined) buffer = new ArrayBuffer(1 << (c + MIN_SHIFT));
  else freeBytes -= buffer.byteLength;
  lent.add(buffer);
  return new Uint8Array(buffer, 0, n);
}

const utf8 = new TextEncoder();

/** `text` as UTF-8 in a lent buffer (to give back once sent), or null when its size is outside the pool's range. */
export function encodeLent(text: string): Uint8Array | null {
  let buffer = lend(text.length); // enough for ASCII, as most long bodies are
  if (buffer === null) return null;
  let r = utf8.encodeInto(text, buffer);
  if (r.read < text.length) {
    giveBack(buffer);
    buffer = lend(text.length * 3); // UTF-8 bytes per UTF-16 unit, at most
    if (buffer === null) return null;
    r = utf8.encodeInto(text, buffer);
  }
  return buffer.subarray(0, r.written);
}

/** Takes back a buffer from lend() that nothing reads any more. */
export function giveBack(view: Uint8Array): void {
  const buffer = view.buffer as ArrayBuffer;
  if (!lent.delete(buffer)) return;
  const c = classOf(buffer.byteLength);
  while (freeBytes + buffer.byteLength > MAX_FREE) {
    let fullest = -1; // the other size with the most free bytes
    for (let i = 0; i < free.length; i++) {
      if (i !== c && free[i].length > 0 && (fullest < 0 || free[i].length << i > free[fullest].length << fullest)) fullest = i;
    }
    if (fullest < 0) return; // only this size is kept: this one is left to the GC
    freeBytes -= free[fullest].pop()!.byteLength;
  }
  freeBytes += buffer.byteLength;
  free[c].push(buffer);
}
