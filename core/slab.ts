// Small outgoing buffers (a response's header block, a short text body, the records of a small
// response) cut from shared slabs instead of allocated one by one. A typed array of its own costs a
// malloc'd backing store (on Node for small sizes, on Deno for any size), about a twentieth
// of a small response. A slab is never written twice: a view handed to a socket stays valid however
// long the socket holds it, and the slab is freed with its last view. The slabs never reach the
// app (they hold output only), so nothing can detach them.

const SLAB_SIZE = 32 * 1024;
/** Larger buffers get their own allocation (or one from pool.ts): cutting them would waste the rest of a slab. */
export const MAX_CUT: number = 4 * 1024;

let slab = new Uint8Array(0);
let at = 0;
/** The latest cut: only its tail can go back. */
let last: Uint8Array | null = null;
const utf8 = new TextEncoder();

/** A buffer of `n` bytes, never used before, for the caller to fill. */
export function cut(n: number): Uint8Array {
  if (n > MAX_CUT) return new Uint8Array(n);
  if (at + n > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    at = 0;
  }
  return (last = slab.subarray(at, at += n));
}

/** `text` as UTF-8 (TextEncoder's encode, without a buffer of its own when it is short). */
export function encodeText(text: string): Uint8Array {
  const max = text.length * 3; // UTF-8 bytes per UTF-16 unit, at most
  if (max > MAX_CUT) return utf8.encode(text);
  const view = cut(max); // from the current slab, at its end
  return trim(view, utf8.encodeInto(text, view).written);
}

/** The first `used` bytes of the last cut; the rest goes back to the slab. */
export function trim(view: Uint8Array, used: number): Uint8Array {
  if (used === view.length) return view;
  if (isLast(view)) at -= view.length - used; // nothing was cut after it
  return view.subarray(0, used);
}

/** The last cut goes back unused (its caller found it could not use it). */
export function uncut(view: Uint8Array): void {
  if (isLast(view)) at -= view.length;
}

function isLast(view: Uint8Array): boolean {
  if (view !== last) return false;
  last = null; // given back once
  return true;
}
