// A large body laid out in the STDOUT records it will leave in, as it is copied (the lazy
// Response's copy of a bytes body, which the Fetch API takes anyway) or encoded (a long text
// body). The response then goes out in one write (Output.endFramed): the head's record in the room
// left in front, the body's records, then the empty STDOUT and END_REQUEST in the room behind.
// Copied plainly, a 256 KiB body left as record headers alternating with views of it: one writev
// on Node, but 9 to 11 writes on Bun and Deno, which have none.
//
// The records are written with request id 0; Output patches in the id when it sends them.

import { giveBack, lend } from "./pool.ts";
import { END_REQUEST_SIZE, HEADER_LEN, MAX_CONTENT, Type, writeHeader } from "./records.ts";
import { MAX_CUT } from "./slab.ts";

/** Room in front of the body's records for the head's record (a longer head is written apart). */
export const HEAD_ROOM = 1024;
/** Room behind them for the empty STDOUT record and END_REQUEST. */
export const TAIL_ROOM: number = HEADER_LEN + END_REQUEST_SIZE;

const utf8 = new TextEncoder();

export class FramedBody {
  /** The lent buffer (pool.ts): HEAD_ROOM, the records from there to `end`, TAIL_ROOM or more. */
  readonly buffer: Uint8Array;
  /** The offset after the last record. */
  readonly end: number;
  /** Body bytes (record contents) in all. */
  readonly length: number;

  private constructor(buffer: Uint8Array, end: number, length: number) {
    this.buffer = buffer;
    this.end = end;
    this.length = length;
  }

  /** A copy of `bytes` as records, or null for a body small enough for one slab cut (or too large for the pool). */
  static copy(bytes: Uint8Array): FramedBody | null {
    const n = bytes.length;
    if (n <= MAX_CUT) return null;
    const buffer = lend(HEAD_ROOM + n + Math.ceil(n / MAX_CONTENT) * HEADER_LEN + TAIL_ROOM);
    if (buffer === null) return null;
    let o = HEAD_ROOM;
    for (let at = 0; at < n; at += MAX_CONTENT) {
      const piece = n - at > MAX_CONTENT ? bytes.subarray(at, at + MAX_CONTENT) : at === 0 ? bytes : bytes.subarray(at);
      writeHeader(buffer, o, Type.STDOUT, 0, piece.length);
      buffer.set(piece, o + HEADER_LEN);
      o += HEADER_LEN + piece.length;
    }
    return new FramedBody(buffer, o, n);
  }

  /** `text` as UTF-8 records, or null for text short enough for one slab cut (or too large for the pool). */
  static encode(text: string): FramedBody | null {
    if (text.length <= MAX_CUT) return null;
    // Room for ASCII first, as most long bodies are; else for the most UTF-8 can take.
    return FramedBody.#encodeInto(text, text.length) ?? FramedBody.#encodeInto(text, text.length * 3);
  }

  /** The body as views, one per record. */
  pieces(): Uint8Array[] {
    const b = this.buffer;
    const pieces: Uint8Array[] = [];
    for (let o = HEAD_ROOM; o < this.end;) {
      const n = (b[o + 4] << 8) | b[o + 5];
      pieces.push(b.subarray(o + HEADER_LEN, o + HEADER_LEN + n));
      o += HEADER_LEN + n;
    }
    return pieces;
  }

  /** The body in one fresh buffer. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const piece of this.pieces()) {
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  }

  /** Back to the pool: nothing reads the buffer any more. */
  release(): void {
    giveBack(this.buffer);
  }

  /**
   * `text` into records of a buffer sized for `bytes` bytes of UTF-8, or null (buffer given back)
   * when it does not fit. encodeInto never splits a char, so a record may hold up to 3 bytes less
   * than MAX_CONTENT: one more record header is allowed for every MAX_CONTENT - 3 bytes.
   */
  static #encodeInto(text: string, bytes: number): FramedBody | null {
    const buffer = lend(HEAD_ROOM + bytes + Math.ceil(bytes / (MAX_CONTENT - 3)) * HEADER_LEN + TAIL_ROOM);
    if (buffer === null) return null;
    const limit = buffer.length - TAIL_ROOM;
    let o = HEAD_ROOM;
    let written = 0;
    let rest = text;
    while (rest.length > 0) {
      const room = Math.min(MAX_CONTENT, limit - o - HEADER_LEN);
      const r = room > 0 ? utf8.encodeInto(rest, buffer.subarray(o + HEADER_LEN, o + HEADER_LEN + room)) : null;
      if (r === null || r.written === 0) {
        giveBack(buffer);
        return null;
      }
      writeHeader(buffer, o, Type.STDOUT, 0, r.written);
      o += HEADER_LEN + r.written;
      written += r.written;
      rest = r.read === rest.length ? "" : rest.substring(r.read);
    }
    return new FramedBody(buffer, o, written);
  }
}
