// Reusable buffers for the copy a lazy Response takes of a large bytes body (the Fetch API copies
// the body at construction). The copy itself is cheap; a fresh buffer per response is not: on
// Node 24 a 256 KiB body cost 300 µs/request with a new buffer each time (page faults, malloc's
// trims, GCs paced by external memory) and 130 µs with a warm one. A buffer comes back only
// when the socket no longer holds it (Conn.write's `sent`), and never reaches the app: one that
// does (the app read the body) is simply not given back.

/** Bodies from 16 KiB (the size Output writes as a view instead of copying) up to 4 MiB. */
const MIN_SHIFT = 14;
const MAX_SHIFT = 22;
/** Free bytes kept across all sizes: enough for 64 responses of 256 KiB in flight. */
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

/** Takes back a buffer from lend() that nothing reads any more. */
export function giveBack(view: Uint8Array): void {
  const buffer = view.buffer as ArrayBuffer;
  if (!lent.delete(buffer)) return;
  if (freeBytes + buffer.byteLength > MAX_FREE) return; // left to the GC
  freeBytes += buffer.byteLength;
  free[classOf(buffer.byteLength)].push(buffer);
}
