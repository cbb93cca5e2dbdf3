// The core's whole per-request path in one process, without sockets: record parse → params →
// Request → handler → Response → records, on a memory connection. Prints CPU µs per request for
// a few handlers, so a change to the hot path can be judged on each runtime in seconds:
//   node bench/inproc.ts · bun bench/inproc.ts · deno run -A bench/inproc.ts
// LAZY=1: --lazy-response --lazy-request (the CLI's default); LAZY=response or
// LAZY=request: just one of them.

import { Channel } from "../core/channel.ts";
import { RecordParser } from "../core/parser.ts";
import { Worker } from "../core/worker.ts";
import { concat, encodeBeginRequest, encodePairs, encodeRecord, KEEP_CONN, RoleCode, Type } from "../core/records.ts";
import type { Conn, FetchHandler } from "../core/types.ts";

/** The params nginx sends for `wrk` through bench/nginx.ts's config (Debian fastcgi_params). */
function params(path: string, method = "GET", extra: [string, string][] = []): [string, string][] {
  return [
    ["QUERY_STRING", ""],
    ["REQUEST_METHOD", method],
    ["CONTENT_TYPE", ""],
    ["CONTENT_LENGTH", ""],
    ["SCRIPT_NAME", path],
    ["REQUEST_URI", path],
    ["DOCUMENT_URI", path],
    ["DOCUMENT_ROOT", "/usr/share/nginx/html"],
    ["SERVER_PROTOCOL", "HTTP/1.1"],
    ["REQUEST_SCHEME", "http"],
    ["GATEWAY_INTERFACE", "CGI/1.1"],
    ["SERVER_SOFTWARE", "nginx/1.22.1"],
    ["REMOTE_ADDR", "127.0.0.1"],
    ["REMOTE_PORT", "51234"],
    ["SERVER_ADDR", "127.0.0.1"],
    ["SERVER_PORT", "8080"],
    ["SERVER_NAME", "localhost"],
    ["REDIRECT_STATUS", "200"],
    ["HTTP_HOST", "127.0.0.1:8080"],
    ...extra,
  ];
}

function request(id: number, pairs: [string, string][], body?: Uint8Array): Uint8Array {
  const parts = [
    encodeBeginRequest(id, RoleCode.RESPONDER, KEEP_CONN),
    encodeRecord(Type.PARAMS, id, encodePairs(pairs)),
    encodeRecord(Type.PARAMS, id),
  ];
  if (body) parts.push(encodeRecord(Type.STDIN, id, body));
  parts.push(encodeRecord(Type.STDIN, id));
  return concat(parts);
}

/** Counts the END_REQUEST records the worker writes, read with the core's own parser. */
class CountingConn implements Conn {
  readonly readable = new Channel<Uint8Array>();
  ended = 0;
  #wake: (() => void) | null = null;
  #parser = new RecordParser((type) => {
    if (type !== Type.END_REQUEST) return;
    this.ended++;
    this.#wake?.();
  });
  write(chunk: Uint8Array, sent?: () => void): void {
    this.#parser.push(chunk);
    sent?.(); // parsed at once: a socket is done with the bytes later, but is done too
  }
  until(n: number): Promise<void> {
    if (this.ended >= n) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = () => {
        if (this.ended >= n) {
          this.#wake = null;
          resolve();
        }
      };
    });
  }
  close(): void {
    this.readable.end();
  }
  destroy(): void {
    this.readable.end();
  }
}

// Requests in flight at once, ids 1..BATCH, in one chunk, as 64 busy connections would have; BATCH=1
// is one request per read, as a web server sends them one at a time (per-read costs then count).
const BATCH = Number(process.env.BATCH ?? 64);
const cases: [string, Uint8Array, FetchHandler][] = [];
const APP = "./app.js"; // plain JS without types, shared with the other contenders
const app = ((await import(APP)) as { default: { fetch: FetchHandler } }).default;
const handler: FetchHandler = app.fetch.bind(app);
const post = new Uint8Array(16384).fill(120);
function batch(make: (id: number) => Uint8Array): Uint8Array {
  return concat(Array.from({ length: BATCH }, (_, i) => make(i + 1)));
}
cases.push(["hello", batch((id) => request(id, params("/hello"))), handler]);
cases.push(["json", batch((id) => request(id, params("/json"))), handler]);
cases.push(["big", batch((id) => request(id, params("/big"))), handler]);
cases.push(["post", batch((id) => request(id, params("/post", "POST", [["CONTENT_LENGTH", "16384"]]), post)), handler]);
cases.push(["bare (no Response)", batch((id) => request(id, params("/hello"))), () => BARE]);
const BARE = new Response(null, { status: 204 });

const cpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const only = process.argv[2];
const LAZY = process.env.LAZY ?? "";
const seconds = Number(process.env.SECONDS ?? 2);
for (const [name, bytes, h] of cases) {
  if (only && !name.startsWith(only)) continue;
  const worker = new Worker(h, {
    log: () => {},
    readTimeout: 0,
    lazyRequest: LAZY === "1" || LAZY === "request",
    lazyResponse: LAZY === "1" || LAZY === "response",
  });
  const conn = new CountingConn();
  worker.serveConn(conn);
  let done = 0;
  const run = async (ms: number): Promise<[number, number]> => {
    const start = cpu();
    const t0 = Date.now();
    let n = 0;
    while (Date.now() - t0 < ms) {
      conn.readable.push(bytes);
      done += BATCH;
      await conn.until(done);
      n += BATCH;
    }
    return [cpu() - start, n];
  };
  await run(500); // warm up
  const [us, n] = await run(seconds * 1000);
  conn.destroy();
  console.log(`${name.padEnd(20)} ${(us / n).toFixed(2).padStart(8)} µs/req  (${n} requests)`);
}
