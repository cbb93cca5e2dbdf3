// A large body laid out in the STDOUT records it will leave in, as it is copied (the lazy
// Response's copy of a bytes body, which the Fetch API takes anyway) or encoded (a long text
// body). The response then goes out in one write (Output.endFramed): the head's record in the room
// left in front, the body's records, then the empty STDOUT and END_REQUEST in the room behind.
// Copied plainly, a 256 KiB body left as record headers alternating with views of it: one writev
// on Node, but 9 to 11 writes on Bun and Deno, which have none.
//
// The records are written with request id 0; Output patches in the id when it sends them.

import { giveBack, lend } from "./pool.ts";
import {
  concat,
  END_REQUEST_SIZE,
  HEADER_LEN,
  MAX_CONTENT,
  streamSize,
  Type,
  writeHeader,
  writeStream,
} from "./records.ts";
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
    const buffer = lend(HEAD_ROOM + streamSize(n) + TAIL_ROOM);
    if (buffer === null) return null;
    return new FramedBody(buffer, writeStream(buffer, HEAD_ROOM, Type.STDOUT, 0, bytes), n);
  }

  /** `text` as UTF-8 records, or null for text short enough for one slab cut (or too large for the pool). */
  static encode(text: string): FramedBody | null {
    if (text.length <= MAX_CUT) return null;
    // Room for ASCII first, as most long bodies are; grown when non-ASCII chars use it up.
    let buffer = lend(framedSize(text.length));
    if (buffer === null) return null;
    let o = HEAD_ROOM;
    let written = 0;
    let rest = text;
    while (rest.length > 0) {
      const room = Math.min(MAX_CONTENT, buffer.length - TAIL_ROOM - o - HEADER_LEN);
      if (room > 0) {
        const r = utf8.encodeInto(rest, buffer.subarray(o + HEADER_LEN, o + HEADER_LEN + room));
        if (r.written > 0) {
          writeHeader(buffer, o, Type.STDOUT, 0, r.written);
          o += HEADER_LEN + r.written;
          written += r.written;
          rest = r.read === rest.length ? "" : rest.substring(r.read);
        }
      }
      if (rest.length === 0 || room === MAX_CONTENT) continue;
      // The buffer's end is near and text is left: the records so far move to one with room for
      // the most UTF-8 the rest can take, and encoding goes on there (nothing is encoded twice).
      const bigger = lend(o + framedSize(rest.length * 3) - HEAD_ROOM);
      if (bigger === null) {
        giveBack(buffer);
        return null;
      }
      bigger.set(buffer.subarray(HEAD_ROOM, o), HEAD_ROOM);
      giveBack(buffer);
      buffer = bigger;
    }
    return new FramedBody(buffer, o, written);
  }

  /** Calls `record` with the offset of each record's header and its content length. */
  #walk(record: (at: number, length: number) => void): void {
    const b = this.buffer;
    for (let o = HEAD_ROOM; o < this.end;) {
      const n = (b[o + 4] << 8) | b[o + 5];
      record(o, n);
      o += HEADER_LEN + n;
    }
  }

  /** Writes the request id into every record's header. */
  stamp(id: number): void {
    const b = this.buffer;
    this.#walk((at) => {
      b[at + 2] = id >>> 8;
      b[at + 3] = id & 0xff;
    });
  }

  /** The body as views, one per record. */
  pieces(): Uint8Array[] {
    const pieces: Uint8Array[] = [];
    this.#walk((at, n) => pieces.push(this.buffer.subarray(at + HEADER_LEN, at + HEADER_LEN + n)));
    return pieces;
  }

  /** The body in one fresh buffer. */
  bytes(): Uint8Array {
    const pieces = this.pieces();
    return pieces.length === 1 ? pieces[0].slice() : concat(pieces, this.length);
  }

  /** Back to the pool: nothing reads the buffer any more. */
  release(): void {
    giveBack(this.buffer);
  }
}

/**
 * A buffer's size for `bytes` of UTF-8 as records, with the room in front and behind. encodeInto
 * never splits a char, so a record may hold up to 3 bytes less than MAX_CONTENT: one more record
 * header is allowed for every MAX_CONTENT - 3 bytes.
 */
function framedSize(bytes: number): number {
  return HEAD_ROOM + bytes + Math.ceil(bytes / (MAX_CONTENT - 3)) * HEADER_LEN + TAIL_ROOM;
}
