// One FastCGI connection: reads records, answers management records, keeps the table of active
// requests (multiplexed or not), honours FCGI_KEEP_CONN and turns EOF into an abort of every
// request on it. Protocol errors (bad version, BEGIN_REQUEST on an active id) close the connection.

import { sourceOf } from "./channel.ts";
import { Closing, type ClosingSettings, peer } from "./closing.ts";
import { Exchange } from "./exchange.ts";
import type { ExchangeHost, Settings } from "./exchange-host.ts";
import { PairDecoder } from "./pairs.ts";
import { ProtocolError, RecordParser } from "./parser.ts";
import { Requests } from "./requests.ts";
import {
  EMPTY,
  encodeEndRequest,
  encodePairs,
  encodeRecord,
  encodeUnknownType,
  KEEP_CONN,
  ProtocolStatus,
  Type,
} from "./records.ts";
import type { Conn, RemoteAddr } from "./types.ts";

/** What a connection needs from the worker that accepted it. */
export interface WorkerState extends Settings, ClosingSettings {
  readonly maxConns: number;
  readonly maxRequests: number;
  readonly multiplex: boolean;
  readonly readTimeout: number;
  readonly idleTimeout: number;
  readonly requestTimeout: number;
  /** The connection closed its side and only lingers for the peer's EOF: it no longer counts against maxConns. */
  lingering(c: Connection): void;
}

export class Connection implements ExchangeHost {
  readonly settings: WorkerState;
  readonly remote: RemoteAddr | undefined;
  readonly copyPiecesUpTo: number;
  #conn: Conn;
  #parser: RecordParser;
  #requests = new Requests<Exchange>();
  #closed = false;
  #closeWhenIdle = false;
  #paused: Promise<void> | null = null;
  #unpause: (() => void) | null = null;
  /** When the record now partly received began arriving (worker clock), or -1. */
  #partialSince = -1;
  #recordsSeen = 0;
  #lastRead: number;
  /** Set once our side is closed: destroys the socket once the output has left. */
  #closing: Closing | null = null;

  constructor(conn: Conn, worker: WorkerState) {
    this.#conn = conn;
    this.settings = worker;
    this.remote = conn.remote;
    const reuse = conn.reusesReadBuffer;
    this.copyPiecesUpTo = reuse === true ? Infinity : typeof reuse === "number" ? reuse : 0;
    this.#parser = new RecordParser(this.#onRecord);
    this.#lastRead = worker.now;
  }

  get idle(): boolean {
    return this.#requests.size === 0;
  }

  get shared(): boolean {
    return this.#requests.size > 1;
  }

  /** Reads until EOF, an error or close(). Never throws. */
  async run(): Promise<void> {
    try {
      const source = sourceOf(this.#conn.readable);
      while (await source.deliver(this.#onChunk)) await this.#paused; // false: ended
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.settings.log("warn", `closing connection${peer(this.remote)}: protocol error: ${err.message}`);
      } else if (!this.#closed) {
        const code = (err as { code?: string }).code;
        // Resets are how HAProxy ends pooled connections: routine, not an error.
        if (code !== "ECONNRESET" && code !== "EPIPE") {
          this.settings.log("warn", `connection read failed${peer(this.remote)}: ${(err as Error).message}`);
        }
      }
    }
    this.#teardown();
    // Nothing reads any more: after an error, or the peer's EOF. Output may still be queued behind
    // a peer that shut its side but reads on: it goes first (or the peer stopped reading for good).
    let closing = this.#closing;
    if (closing === null) {
      this.#conn.close();
      closing = new Closing(this.#conn, this.settings);
    }
    closing.ended();
  }

  /** Each chunk as it is read, in the adapter's call; false while paused (backpressure on STDIN). */
  #onChunk = (chunk: Uint8Array): boolean => {
    if (this.#closed) {
      this.#closing?.heard();
      return true;
    }
    const parser = this.#parser;
    parser.push(chunk);
    // Timeout bookkeeping: two field writes per chunk; the sweep does the rest.
    const now = (this.#lastRead = this.settings.now);
    if (parser.idle) this.#partialSince = -1;
    else if (this.#partialSince < 0 || parser.records !== this.#recordsSeen) this.#partialSince = now;
    this.#recordsSeen = parser.records;
    return this.#paused === null;
  };

  /** Graceful close: now if idle, else once the requests in flight are done. */
  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    if (this.idle) this.#close();
  }

  /** Hard close: abort everything. */
  destroy(): void {
    this.#teardown();
    this.#conn.destroy();
  }

  write(chunk: Uint8Array, sent?: () => void): void | Promise<void> {
    if (this.#closed) return;
    try {
      return this.#conn.write(chunk, sent);
    } catch (err) {
      this.#writeFailed(err);
    }
  }

  writev(chunks: readonly Uint8Array[], sent?: () => void): void | Promise<void> {
    if (this.#closed) return;
    const conn = this.#conn;
    try {
      if (conn.writev) return conn.writev(chunks, sent);
      let wait: void | Promise<void> = undefined;
      const last = chunks.length - 1;
      for (let i = 0; i <= last; i++) wait = conn.write(chunks[i], i === last ? sent : undefined) ?? wait; // writes leave in order
      return wait;
    } catch (err) {
      this.#writeFailed(err);
    }
  }

  #writeFailed(err: unknown): void {
    this.settings.log("warn", `connection write failed${peer(this.remote)}: ${(err as Error).message}`);
    this.#teardown();
    this.#conn.destroy();
  }

  resume(): void {
    const unpause = this.#unpause;
    if (!unpause) return;
    this.#paused = this.#unpause = null;
    // The time spent paused was ours, not the peer's.
    if (this.#partialSince >= 0) this.#partialSince = this.settings.now;
    for (const ex of this.#requests.list()) ex.waitedFrom(this.settings.now);
    unpause();
  }

  /** Applies the read, idle and request timeouts as of `now` (called by the worker's sweep). */
  sweep(now: number): void {
    if (this.#closed) return;
    const s = this.settings;
    if (s.readTimeout > 0 && !this.#paused) {
      if (this.#partialSince >= 0 && now - this.#partialSince > s.readTimeout) {
        return this.#timedOut(`a record still incomplete after ${s.readTimeout} ms`);
      }
      for (const ex of this.#requests.list()) {
        if (!ex.started && now - ex.begun > s.readTimeout) {
          return this.#timedOut(`request ${ex.id}'s params still incomplete after ${s.readTimeout} ms`);
        }
      }
    }
    if (s.requestTimeout > 0) {
      for (const ex of this.#requests.list()) {
        if (ex.started && now - ex.startedAt > s.requestTimeout) ex.timeout(s.requestTimeout);
      }
    }
    if (s.idleTimeout > 0 && this.idle && this.#partialSince < 0 && now - this.#lastRead > s.idleTimeout) {
      s.log("info", `closing connection${peer(this.remote)}: idle for ${s.idleTimeout} ms`);
      this.#close();
    }
  }

  #timedOut(what: string): void {
    this.settings.log("warn", `read timeout: ${what}${peer(this.remote)}; closing the connection`);
    this.destroy();
  }

  ended(ex: Exchange, broken: boolean): void {
    if (!this.#requests.remove(ex)) return;
    this.resume();
    // A broken response ends with the close: the web server must see a failure (Exchange.#fail).
    if (broken || (this.idle && (this.#closeWhenIdle || !ex.keepConn))) this.#close();
  }

  #onRecord = (type: number, id: number, bytes: Uint8Array, start: number, end: number): void => {
    if (this.#closed) return; // the rest of a chunk that closed the connection
    if (id === 0) return this.#management(type, bytes.subarray(start, end));
    if (type === Type.BEGIN_REQUEST) return this.#begin(id, bytes, start, end);
    const ex = this.#requests.get(id);
    if (!ex) return; // an inactive id: ignored (F12)
    switch (type) {
      case Type.PARAMS:
        return ex.params(bytes, start, end);
      case Type.STDIN:
        if (!ex.stdin(piece(bytes, start, end))) this.#pause();
        return;
      case Type.DATA:
        if (!ex.data(piece(bytes, start, end))) this.#pause();
        return;
      case Type.ABORT_REQUEST:
        return ex.abort("the web server aborted the request (FCGI_ABORT_REQUEST)");
    }
    // Any other application record type: ignored (G3).
  };

  #management(type: number, content: Uint8Array): void {
    if (type !== Type.GET_VALUES) {
      this.write(encodeUnknownType(type)); // F23
      return;
    }
    // One GET_VALUES_RESULT with just the names understood (F21, G4).
    // A malformed query still gets an answer, for the names read before the fault.
    const asked: [string, string][] = [];
    try {
      new PairDecoder({ maxBytes: 0xffff, maxPairs: 64, maxLength: 256 }, (name, value) => asked.push([name, value]))
        .push(content);
    } catch {
      // the names so far are in `asked`
    }
    const s = this.settings;
    const values: Record<string, string> = {
      FCGI_MAX_CONNS: String(s.maxConns),
      FCGI_MAX_REQS: String(s.maxRequests),
      FCGI_MPXS_CONNS: s.multiplex ? "1" : "0",
    };
    const answer = asked.filter(([name]) => name in values).map(([name]) => [name, values[name]] as const);
    this.write(encodeRecord(Type.GET_VALUES_RESULT, 0, encodePairs(answer)));
  }

  #begin(id: number, bytes: Uint8Array, start: number, end: number): void {
    if (end - start < 8) throw new ProtocolError(`BEGIN_REQUEST ${id} has ${end - start} content bytes, not 8`);
    if (this.#requests.get(id)) throw new ProtocolError(`BEGIN_REQUEST for request ${id}, which is already active`); // G2
    const role = (bytes[start] << 8) | bytes[start + 1];
    const keepConn = (bytes[start + 2] & KEEP_CONN) !== 0;
    const s = this.settings;
    let refusal = -1;
    if (role < 1 || role > 3) refusal = ProtocolStatus.UNKNOWN_ROLE;
    else if (!s.multiplex && this.#requests.size > 0) refusal = ProtocolStatus.CANT_MPX_CONN;
    else if (s.active >= s.maxRequests) refusal = ProtocolStatus.OVERLOADED;
    if (refusal >= 0) {
      const names = ["", "CANT_MPX_CONN", "OVERLOADED", "UNKNOWN_ROLE"];
      s.log(
        "warn",
        `request ${id} refused${peer(this.remote)}: ${names[refusal]}${
          refusal === ProtocolStatus.UNKNOWN_ROLE ? ` (role ${role})` : ""
        }`,
      );
      this.write(encodeEndRequest(id, 0, refusal));
      if (!keepConn && this.idle) this.#close();
      return;
    }
    this.#requests.add(new Exchange(this, id, role, keepConn, s.now));
  }

  #pause(): void {
    this.#paused ??= new Promise((resolve) => (this.#unpause = resolve));
  }

  /**
   * Sends what is queued, then closes our side. The peer may still be sending (a body the handler
   * never read, with Caddy writing STDIN after the response): closing the socket with unread data
   * would reset the connection and lose the response, so its bytes are read and dropped until it
   * closes too, or the output has left and it has been quiet for a while (core/closing.ts).
   */
  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.resume();
    this.#conn.close();
    this.#closing = new Closing(this.#conn, this.settings);
    this.settings.lingering(this);
  }

  /** The connection is gone: every request still active is aborted. */
  #teardown(): void {
    this.#closed = true;
    this.resume();
    for (const ex of this.#requests.list()) ex.abort("the web server closed the connection");
  }
}

/** A body piece as a view the body may keep; EMPTY, the stream's end, for an empty range. */
function piece(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return start === end ? EMPTY : bytes.subarray(start, end);
}
