// One request's outgoing records. Records are collected and leave in as few socket writes as
// possible (a small response: head, body, empty STDOUT and END_REQUEST in one write). END_REQUEST
// is written exactly once, and nothing is written for the id after it (F31, G9).

import { END_REQUEST_SIZE, HEADER_LEN, MAX_CONTENT, ProtocolStatus, Type, writeEndRequest, writeHeader } from "./records.ts";

export interface Sink {
  write(chunk: Uint8Array): void | Promise<void>;
}

/** Content up to this size is copied next to its header instead of being kept as a view. */
const COPY_BELOW = 4096;
const encoder = new TextEncoder();

export class Output {
  readonly id: number;
  #sink: Sink;
  #parts: Uint8Array[] = [];
  #size = 0;
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

  stdout(content: Uint8Array): void {
    this.#stream(Type.STDOUT, content);
  }

  stderr(text: string): void {
    this.#stream(Type.STDERR, encoder.encode(text));
  }

  /** The empty STDOUT record that ends the response stream (F34). */
  endStdout(): void {
    if (this.ended) return;
    const h = new Uint8Array(HEADER_LEN);
    writeHeader(h, 0, Type.STDOUT, this.id, 0);
    this.#push(h);
  }

  /** Queues END_REQUEST and writes everything. Later calls do nothing. */
  end(appStatus: number, protocolStatus: number = ProtocolStatus.REQUEST_COMPLETE): void | Promise<void> {
    if (this.ended) return;
    const rec = new Uint8Array(END_REQUEST_SIZE);
    writeEndRequest(rec, 0, this.id, appStatus, protocolStatus);
    this.#push(rec);
    this.ended = true;
    return this.#write();
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
    this.#parts = [];
    this.#size = 0;
  }

  /** Writes what is queued; a Promise means the socket is full and the caller should wait. */
  flush(): void | Promise<void> {
    if (this.ended || this.#size === 0) return;
    return this.#write();
  }

  #write(): void | Promise<void> {
    const parts = this.#parts;
    let chunk: Uint8Array;
    if (parts.length === 1) chunk = parts[0];
    else {
      chunk = new Uint8Array(this.#size);
      let offset = 0;
      for (const p of parts) {
        chunk.set(p, offset);
        offset += p.length;
      }
    }
    this.#parts = [];
    this.#size = 0;
    this.flushed = true;
    return this.#sink.write(chunk);
  }

  #push(part: Uint8Array): void {
    this.#parts.push(part);
    this.#size += part.length;
  }

  #stream(type: number, content: Uint8Array): void {
    if (this.ended || content.length === 0) return;
    for (let start = 0; start < content.length; start += MAX_CONTENT) {
      const piece = content.subarray(start, start + MAX_CONTENT);
      if (piece.length < COPY_BELOW) {
        const rec = new Uint8Array(HEADER_LEN + piece.length);
        writeHeader(rec, 0, type, this.id, piece.length);
        rec.set(piece, HEADER_LEN);
        this.#push(rec);
      } else {
        const h = new Uint8Array(HEADER_LEN);
        writeHeader(h, 0, type, this.id, piece.length);
        this.#push(h);
        this.#push(piece);
      }
    }
  }
}
