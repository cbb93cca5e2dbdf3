// One request's outgoing records. Output is queued and leaves in as few socket writes as possible
// (a small response: head, body, empty STDOUT and END_REQUEST in one write), and adjacent pieces
// of one stream share records (the head and a body that is ready go in one STDOUT record: Apache
// relays an Authorizer's body only then). END_REQUEST is written exactly once, and nothing is
// written for the id after it (F31, G9).

import { END_REQUEST_SIZE, HEADER_LEN, MAX_CONTENT, ProtocolStatus, Type, writeEndRequest, writeHeader } from "./records.ts";

export interface Sink {
  write(chunk: Uint8Array): void | Promise<void>;
}

const encoder = new TextEncoder();

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

  stdout(content: Uint8Array): void {
    this.#stream(Type.STDOUT, content);
  }

  stderr(text: string): void {
    this.#stream(Type.STDERR, encoder.encode(text));
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
  }

  /** Writes what is queued; a Promise means the socket is full and the caller should wait. */
  flush(): void | Promise<void> {
    if (this.ended || this.#runs.length === 0) return;
    return this.#write();
  }

  /** Encodes every queued run and END_REQUEST into one buffer: one allocation, one socket write. */
  #write(): void | Promise<void> {
    const runs = this.#runs;
    let total = this.#endRecord ? END_REQUEST_SIZE : 0;
    for (const run of runs) total += run.size === 0 ? HEADER_LEN : run.size + Math.ceil(run.size / MAX_CONTENT) * HEADER_LEN;
    const out = new Uint8Array(total);
    let offset = 0;
    for (const run of runs) offset = writeRun(out, offset, run, this.id);
    if (this.#endRecord) writeEndRequest(out, offset, this.id, this.#appStatus, this.#protocolStatus);
    this.#runs = [];
    this.#size = 0;
    this.flushed = true;
    return this.#sink.write(out);
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

/** Writes `run` as records of at most 65535 content bytes (or its one empty end record). */
function writeRun(out: Uint8Array, offset: number, run: Run, id: number): number {
  if (run.size === 0) {
    writeHeader(out, offset, run.type, id, 0);
    return offset + HEADER_LEN;
  }
  let left = run.size;
  let room = 0; // content bytes left in the current record
  for (const part of run.parts) {
    let from = 0;
    while (from < part.length) {
      if (room === 0) {
        room = Math.min(left, MAX_CONTENT);
        writeHeader(out, offset, run.type, id, room);
        offset += HEADER_LEN;
      }
      const take = Math.min(room, part.length - from);
      out.set(from === 0 && take === part.length ? part : part.subarray(from, from + take), offset);
      offset += take;
      from += take;
      room -= take;
      left -= take;
    }
  }
  return offset;
}
