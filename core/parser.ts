// Incremental record parser. Any byte of a record may arrive in any chunk (F15): the parser keeps
// only the partial header and, for discrete records, the partial content. Stream records (PARAMS,
// STDIN, DATA, STDOUT, STDERR) are handed on piece by piece as ranges of the received chunk, so
// body bytes are never copied here; an empty piece is only ever the stream's end record.

import { EMPTY, HEADER_LEN, Type, VERSION_1 } from "./records.ts";

export class ProtocolError extends Error {
  name = "ProtocolError";
}

/**
 * Receives each record's content as `bytes[start, end)`: a range, not a view, since a subarray for
 * BEGIN_REQUEST's content and one for the PARAMS piece cost a small request a measurable share
 * of its whole in-process path (bench/inproc.ts hello; bench/PROFILE.md). For stream types it is
 * one piece of a record (never empty) or, for a record with contentLength 0, an empty range: the
 * end of that stream. For other types it is the whole record content. `bytes` is the chunk being
 * parsed (or the parser's own buffer for a record that came in pieces), valid only during the call.
 */
export type RecordHandler = (type: number, requestId: number, bytes: Uint8Array, start: number, end: number) => void;

export function isStreamType(type: number): boolean {
  return type === Type.PARAMS || type === Type.STDIN || type === Type.DATA || type === Type.STDOUT ||
    type === Type.STDERR;
}

export class RecordParser {
  #onRecord: RecordHandler;
  #header = new Uint8Array(HEADER_LEN);
  #headerFill = 0;
  #type = 0;
  #id = 0;
  #remaining = 0; // content bytes still to come for the current record
  #padding = 0; // padding bytes still to skip
  #discrete: Uint8Array | null = null; // content of a discrete record being assembled
  #discreteFill = 0;
  #stream = false;
  /** Record headers read so far: tells a caller whether a new record began. */
  records = 0;

  constructor(onRecord: RecordHandler) {
    this.#onRecord = onRecord;
  }

  /** True when no record is partially received (a clean place for the peer to stop). */
  get idle(): boolean {
    return this.#headerFill === 0 && this.#remaining === 0 && this.#padding === 0;
  }

  /** Feeds one chunk; throws ProtocolError on a version other than 1 (G1). */
  push(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, n - i);
        if (this.#stream) {
          this.#remaining -= take;
          this.#onRecord(this.#type, this.#id, chunk, i, i + take);
        } else {
          this.#discrete!.set(chunk.subarray(i, i + take), this.#discreteFill);
          this.#discreteFill += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            const content = this.#discrete!;
            this.#discrete = null;
            this.#onRecord(this.#type, this.#id, content, 0, content.length);
          }
        }
        i += take;
        continue;
      }
      if (this.#padding > 0) {
        const skip = Math.min(this.#padding, n - i);
        this.#padding -= skip;
        i += skip;
        continue;
      }
      // Header: the fast path reads it straight from the chunk.
      let h: Uint8Array;
      let base: number;
      if (this.#headerFill === 0 && n - i >= HEADER_LEN) {
        h = chunk;
        base = i;
        i += HEADER_LEN;
      } else {
        const take = Math.min(HEADER_LEN - this.#headerFill, n - i);
        this.#header.set(chunk.subarray(i, i + take), this.#headerFill);
        this.#headerFill += take;
        i += take;
        if (this.#headerFill < HEADER_LEN) return;
        this.#headerFill = 0;
        h = this.#header;
        base = 0;
      }
      this.records++;
      if (h[base] !== VERSION_1) throw new ProtocolError(`unsupported FastCGI version ${h[base]}`);
      this.#type = h[base + 1];
      this.#id = (h[base + 2] << 8) | h[base + 3];
      const length = (h[base + 4] << 8) | h[base + 5];
      this.#padding = h[base + 6];
      // Management records (id 0) are always whole: each gets one answer.
      this.#stream = this.#id !== 0 && isStreamType(this.#type);
      if (length === 0) {
        this.#onRecord(this.#type, this.#id, EMPTY, 0, 0);
      } else if (this.#stream) {
        this.#remaining = length;
      } else if (n - i >= length) {
        // Whole discrete record in this chunk: hand out its range.
        i += length;
        this.#onRecord(this.#type, this.#id, chunk, i - length, i);
      } else {
        this.#remaining = length;
        this.#discrete = new Uint8Array(length);
        this.#discreteFill = 0;
      }
    }
  }
}
