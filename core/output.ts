// One request's outgoing records. Output is queued and leaves in as few socket writes as possible
// (a small response: head, body, empty STDOUT and END_REQUEST in one write), and adjacent pieces
// of one stream share records (the head and a body that is ready go in one STDOUT record: Apache
// relays an Authorizer's body only then). END_REQUEST is written exactly once, and nothing is
// written for the id after it (F31, G9).

import { type FramedBody, HEAD_ROOM } from "./framed.ts";
import {
  END_REQUEST_SIZE,
  HEADER_LEN,
  MAX_CONTENT,
  ProtocolStatus,
  Type,
  writeEndRequest,
  writeHeader,
} from "./records.ts";
import { giveBack, lend } from "./pool.ts";
import { byteString, writeChars } from "./response.ts";
import { cut, encodeText, MAX_CUT, trim, uncut } from "./slab.ts";

export interface Sink {
  /** `sent`, if given, is called once the socket no longer holds the bytes (maybe never). */
  write(chunk: Uint8Array, sent?: () => void): void | Promise<void>;
  writev(chunks: readonly Uint8Array[], sent?: () => void): void | Promise<void>;
}

/** Queued bytes of one stream, to be cut into records of at most 65535 bytes; `size` 0 = the stream's end record. */
interface Run {
  type: number;
  parts: Uint8Array[];
  size: number;
}

export class Output {
  readonly id: number;
  #sink: Sink;
  #runs: Run[] = [];
  #size = 0;
  /** Callbacks of queued content that wants to know when the socket is done with it. */
  #sent: (() => void)[] | null = null;
  #endRecord = false;
  #appStatus = 0;
  #protocolStatus = 0;
  /** Something was already written to the socket for this id. */
  flushed = false;
  /** END_REQUEST was queued: the id is closed for writing. */
  ended = false;

  constructor(sink: Sink, id: number) {
    this.#sink = sink;
    this.id = id;
  }

  get pending(): number {
    return this.#size;
  }

  /** Queues response bytes; `sent`, if given, is called once nothing holds them any more (maybe never). */
  stdout(content: Uint8Array, sent?: () => void): void {
    if (sent === undefined) return this.#stream(Type.STDOUT, content);
    if (this.ended) return sent();
    (this.#sent ??= []).push(sent);
    this.#stream(Type.STDOUT, content);
  }

  stderr(text: string): void {
    this.#stream(Type.STDERR, encodeText(text));
  }

  /** The empty STDOUT record that ends the response stream (F34). */
  endStdout(): void {
    if (this.ended) return;
    this.#runs.push({ type: Type.STDOUT, parts: [], size: 0 });
  }

  /** Queues END_REQUEST and writes everything. Later calls do nothing. */
  end(appStatus: number, protocolStatus: number = ProtocolStatus.REQUEST_COMPLETE): void | Promise<void> {
    if (this.ended) return;
    this.#endRecord = true;
    this.#appStatus = appStatus;
    this.#protocolStatus = protocolStatus;
    this.ended = true;
    return this.#write();
  }

  /**
   * A whole small response when nothing else is queued: the record headers, `head` (one char per
   * byte), the body, the empty STDOUT and END_REQUEST written straight into one slab cut, sent in
   * one write (no queue, no copy of a head or body encoded apart). False, with nothing done, when it
   * does not fit in a cut or the head has a char above 0xFF: the caller queues it the usual way.
   */
  endSmall(head: string, body: string | Uint8Array | null): boolean {
    if (this.ended || this.#runs.length > 0) return false;
    // A short text is copied char by char (cheaper than a view for encodeInto) while it is ASCII;
    // a short one that is not goes through encodeInto too, in a cut with room for its UTF-8.
    const ascii = typeof body === "string" && body.length <= SHORT_TEXT;
    return this.#small(head, body, ascii) || (ascii && this.#small(head, body, false));
  }

  #small(head: string, body: string | Uint8Array | null, ascii: boolean): boolean {
    const bodyMax = body === null ? 0 : typeof body !== "string" || ascii ? body.length : body.length * 3;
    const capacity = 2 * HEADER_LEN + head.length + bodyMax + END_REQUEST_SIZE;
    if (capacity > MAX_CUT) return false;
    const buf = cut(capacity);
    let o = writeChars(head, buf, HEADER_LEN, 0xff);
    if (o >= 0 && typeof body === "string") {
      o = ascii ? writeChars(body, buf, o, 0x7f) : o + utf8.encodeInto(body, buf.subarray(o, o + bodyMax)).written;
    } else if (o >= 0 && body !== null && typeof body !== "string") {
      buf.set(body, o);
      o += body.length;
    }
    if (o < 0) {
      uncut(buf);
      return false;
    }
    writeHeader(buf, 0, Type.STDOUT, this.id, o - HEADER_LEN);
    writeHeader(buf, o, Type.STDOUT, this.id, 0);
    o = writeEndRequest(buf, o + HEADER_LEN, this.id, 0, ProtocolStatus.REQUEST_COMPLETE);
    this.ended = true;
    this.flushed = true;
    const p = this.#sink.write(trim(buf, o));
    if (p) p.catch(() => {});
    return true;
  }

  /**
   * A whole response around a framed body (framed.ts), given back once sent: the head's record in
   * the room in front of it, the empty STDOUT and END_REQUEST behind it, and the request id into its
   * records, sent in one write. Anything queued (STDERR) goes first; so does a head that does not
   * fit in front (or has a char above 0xFF), as records of its own.
   */
  endFramed(head: string, body: FramedBody): void {
    if (this.ended) return body.release();
    const buf = body.buffer;
    let start = HEAD_ROOM - HEADER_LEN - head.length;
    if (start < 0 || writeChars(head, buf, start + HEADER_LEN, 0xff) < 0) {
      this.#stream(Type.STDOUT, byteString(head));
      start = HEAD_ROOM;
    } else {
      writeHeader(buf, start, Type.STDOUT, this.id, head.length);
    }
    const queued = this.flush();
    if (queued) queued.catch(() => {});
    body.stamp(this.id);
    writeHeader(buf, body.end, Type.STDOUT, this.id, 0);
    const end = writeEndRequest(buf, body.end + HEADER_LEN, this.id, 0, ProtocolStatus.REQUEST_COMPLETE);
    this.ended = true;
    this.flushed = true;
    const p = this.#sink.write(buf.subarray(start, end), () => body.release());
    if (p) p.catch(() => {});
  }

  /** Writes what is queued and closes the id without END_REQUEST (the connection is about to go). */
  abandon(): void {
    if (this.ended) return;
    const p = this.flush();
    if (p) p.catch(() => {});
    this.ended = true;
  }

  /** Drops what is queued (a response replaced before any of it left). */
  reset(): void {
    if (this.ended) return;
    this.#runs = [];
    this.#size = 0;
    const sent = this.#sent;
    this.#sent = null;
    if (sent !== null) { for (const f of sent) f(); }
  }

  /** Writes what is queued; a Promise means the socket is full and the caller should wait. */
  flush(): void | Promise<void> {
    if (this.ended || this.#runs.length === 0) return;
    return this.#write();
  }

  /**
   * Encodes the queued runs and END_REQUEST: headers and small content are copied into one
   * buffer (a small response is one cut from a slab, one socket write); content of VIEW_FROM bytes
   * or more goes to the socket as it is, between slices of that buffer. Copying a large body
   * would cost more than the write itself (a fresh large buffer is paid in page faults).
   */
  #write(): void | Promise<void> {
    const runs = this.#runs;
    let small = this.#endRecord ? END_REQUEST_SIZE : 0;
    walk(runs, (type, length) => (small += HEADER_LEN + padding(type, length)), (piece) => {
      if (piece.length < VIEW_FROM) small += piece.length;
    });
    const lent = small > MAX_CUT ? lend(small) : null; // given back once sent, with the rest
    if (lent !== null) (this.#sent ??= []).push(() => giveBack(lent));
    const buf = lent ?? cut(small);
    const chunks: Uint8Array[] = [];
    let offset = 0;
    let from = 0; // start of the part of buf not yet handed out
    let pad = 0; // the padding owed behind the record just written
    walk(runs, (type, length) => {
      offset = zeros(buf, offset, pad);
      pad = padding(type, length);
      writeHeader(buf, offset, type, this.id, length, pad);
      offset += HEADER_LEN;
    }, (piece) => {
      if (piece.length < VIEW_FROM) {
        buf.set(piece, offset);
        offset += piece.length;
        return;
      }
      if (offset > from) chunks.push(buf.subarray(from, offset));
      chunks.push(piece);
      from = offset;
    });
    offset = zeros(buf, offset, pad);
    if (this.#endRecord) offset = writeEndRequest(buf, offset, this.id, this.#appStatus, this.#protocolStatus);
    if (offset > from) chunks.push(from === 0 && offset === buf.length ? buf : buf.subarray(from, offset));
    this.#runs = [];
    this.#size = 0;
    this.flushed = true;
    const sent = this.#sent;
    this.#sent = null;
    const done = sent === null ? undefined : sent.length === 1 ? sent[0] : () => {
      for (const f of sent) f();
    };
    // A large body alternates record headers with views of it: those go out in one writev.
    return chunks.length === 1 ? this.#sink.write(chunks[0], done) : this.#sink.writev(chunks, done);
  }

  #stream(type: number, content: Uint8Array): void {
    if (this.ended || content.length === 0) return;
    const runs = this.#runs;
    const last = runs.length > 0 ? runs[runs.length - 1] : undefined;
    if (last !== undefined && last.type === type && last.size > 0) {
      last.parts.push(content);
      last.size += content.length;
    } else {
      runs.push({ type, parts: [content], size: content.length });
    }
    this.#size += content.length;
  }
}

/**
 * STDERR records carry 1-8 bytes of padding and at most STDERR_MAX bytes of content. HAProxy 2.6.12
 * (Debian 12) corrupts its memory and dies (SIGSEGV) when a STDERR record's content is all that is
 * left in its read buffer: it swaps that buffer with its own scratch one instead of copying (fixed
 * upstream by commit 665703d, "mux-fcgi: Don't swap trash and dbuf when handling STDERR records").
 * It waits for a whole record, padding included, when the record fits in its 16 KB buffer, so
 * padding means the content is never all there is: a log line just before a close, or alone in a
 * write mid-stream, is safe. Every front reads padding (PHP-FPM pads every record).
 */
const STDERR_MAX = 8 * 1024;

function padding(type: number, length: number): number {
  return type === Type.STDERR && length > 0 ? 8 - (length & 7) : 0;
}

/** Writes `n` zero bytes (a record's padding) at `offset`; the slab may hold old bytes. */
function zeros(buf: Uint8Array, offset: number, n: number): number {
  if (n > 0) buf.fill(0, offset, offset + n);
  return offset + n;
}

/** Texts up to this many chars go to endSmall's char-by-char copy. */
const SHORT_TEXT = 64;
const utf8 = new TextEncoder();

/** Content pieces this large are written as views, not copied. */
const VIEW_FROM = 16 * 1024;

/** Walks the records the runs make: each record header (type, content length), then its content in pieces. */
function walk(runs: Run[], header: (type: number, length: number) => void, content: (piece: Uint8Array) => void): void {
  for (const run of runs) {
    if (run.size === 0) {
      header(run.type, 0);
      continue;
    }
    let left = run.size;
    let room = 0; // content bytes left in the current record
    for (const part of run.parts) {
      let at = 0;
      while (at < part.length) {
        if (room === 0) {
          room = Math.min(left, run.type === Type.STDERR ? STDERR_MAX : MAX_CONTENT);
          header(run.type, room);
        }
        const take = Math.min(room, part.length - at);
        content(at === 0 && take === part.length ? part : part.subarray(at, at + take));
        at += take;
        room -= take;
        left -= take;
      }
    }
  }
}
