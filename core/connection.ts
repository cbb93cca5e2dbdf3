// One FastCGI connection: reads records, answers management records, keeps the table of active
// requests (multiplexed or not), honours FCGI_KEEP_CONN and turns EOF into an abort of every
// request on it. Protocol errors (bad version, BEGIN_REQUEST on an active id) close the connection.

import { Exchange, type Host, type Settings } from "./exchange.ts";
import { decodePairs } from "./pairs.ts";
import { ProtocolError, RecordParser } from "./parser.ts";
import {
  encodeEndRequest, encodePairs, encodeRecord, encodeUnknownType, KEEP_CONN, ProtocolStatus, Type,
} from "./records.ts";
import type { Conn, RemoteAddr } from "./types.ts";

/** What a connection needs from the worker that accepted it. */
export interface WorkerState extends Settings {
  readonly maxConns: number;
  readonly maxRequests: number;
  readonly multiplex: boolean;
  /** Requests in flight in the whole worker. */
  active: number;
}

export class Connection implements Host {
  readonly settings: WorkerState;
  readonly remote: RemoteAddr | undefined;
  #conn: Conn;
  #parser: RecordParser;
  #requests = new Map<number, Exchange>();
  #closed = false;
  #closeWhenIdle = false;
  #paused: Promise<void> | null = null;
  #unpause: (() => void) | null = null;

  constructor(conn: Conn, worker: WorkerState) {
    this.#conn = conn;
    this.settings = worker;
    this.remote = conn.remote;
    this.#parser = new RecordParser(this.#onRecord);
  }

  get idle(): boolean {
    return this.#requests.size === 0;
  }

  /** Reads until EOF, an error or close(). Never throws. */
  async run(): Promise<void> {
    try {
      for await (const chunk of this.#conn.readable) {
        this.#parser.push(chunk);
        if (this.#closed) break;
        if (this.#paused) await this.#paused;
        if (this.#closed) break;
      }
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.settings.log("warn", `closing connection${peer(this.remote)}: protocol error: ${err.message}`);
      } else if (!this.#closed) {
        const code = (err as { code?: string }).code;
        // Resets are how HAProxy ends pooled connections: routine, not an error.
        if (code !== "ECONNRESET" && code !== "EPIPE") this.settings.log("warn", `connection read failed${peer(this.remote)}: ${(err as Error).message}`);
      }
    }
    this.#teardown();
    this.#conn.close();
  }

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

  write(chunk: Uint8Array): void | Promise<void> {
    if (this.#closed) return;
    try {
      return this.#conn.write(chunk);
    } catch (err) {
      this.settings.log("warn", `connection write failed${peer(this.remote)}: ${(err as Error).message}`);
      this.#teardown();
      this.#conn.destroy();
    }
  }

  resume(): void {
    const unpause = this.#unpause;
    this.#paused = this.#unpause = null;
    unpause?.();
  }

  ended(ex: Exchange): void {
    if (this.#requests.get(ex.id) !== ex) return;
    this.#requests.delete(ex.id);
    this.settings.active--;
    this.resume();
    if (this.idle && (this.#closeWhenIdle || !ex.keepConn)) this.#close();
  }

  fail(ex: Exchange): void {
    if (this.#requests.size > 1) {
      // Others share the connection: end just this one, with a failure status.
      ex.out.end(1);
      this.ended(ex);
      return;
    }
    // Alone: close without END_REQUEST, the one signal every web server reads as a failed response.
    ex.out.abandon();
    this.ended(ex);
    this.#close();
  }

  #onRecord = (type: number, id: number, content: Uint8Array): void => {
    if (id === 0) return this.#management(type, content);
    if (type === Type.BEGIN_REQUEST) return this.#begin(id, content);
    const ex = this.#requests.get(id);
    if (!ex) return; // an inactive id: ignored (F12)
    switch (type) {
      case Type.PARAMS:
        return ex.params(content);
      case Type.STDIN:
        if (!ex.stdin(content)) this.#pause();
        return;
      case Type.DATA:
        if (!ex.data(content)) this.#pause();
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
    let asked: [string, string][] = [];
    try {
      asked = decodePairs(content, { maxBytes: 0xffff, maxPairs: 64, maxLength: 256 });
    } catch {
      // a malformed query still gets an answer, for the names that could be read
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

  #begin(id: number, content: Uint8Array): void {
    if (content.length < 8) throw new ProtocolError(`BEGIN_REQUEST ${id} has ${content.length} content bytes, not 8`);
    if (this.#requests.has(id)) throw new ProtocolError(`BEGIN_REQUEST for request ${id}, which is already active`); // G2
    const role = (content[0] << 8) | content[1];
    const keepConn = (content[2] & KEEP_CONN) !== 0;
    const s = this.settings;
    let refusal = -1;
    if (role < 1 || role > 3) refusal = ProtocolStatus.UNKNOWN_ROLE;
    else if (!s.multiplex && this.#requests.size > 0) refusal = ProtocolStatus.CANT_MPX_CONN;
    else if (s.active >= s.maxRequests) refusal = ProtocolStatus.OVERLOADED;
    if (refusal >= 0) {
      const names = ["", "CANT_MPX_CONN", "OVERLOADED", "UNKNOWN_ROLE"];
      s.log("warn", `request ${id} refused${peer(this.remote)}: ${names[refusal]}${refusal === ProtocolStatus.UNKNOWN_ROLE ? ` (role ${role})` : ""}`);
      this.write(encodeEndRequest(id, 0, refusal));
      if (!keepConn && this.idle) this.#close();
      return;
    }
    s.active++;
    this.#requests.set(id, new Exchange(this, id, role, keepConn));
  }

  #pause(): void {
    this.#paused ??= new Promise((resolve) => (this.#unpause = resolve));
  }

  /** Sends what is queued, then closes. */
  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.resume();
    this.#conn.close();
  }

  /** The connection is gone: every request still active is aborted. */
  #teardown(): void {
    this.#closed = true;
    this.resume();
    for (const ex of [...this.#requests.values()]) ex.drop();
  }
}

function peer(remote: RemoteAddr | undefined): string {
  if (!remote) return "";
  return remote.family === "unix" ? ` from ${remote.address || "unix socket"}` : ` from ${remote.address}:${remote.port}`;
}
