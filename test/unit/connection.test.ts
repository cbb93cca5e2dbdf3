// The core's connection driven in-process through its own seam (a Conn backed by memory), to see
// what a socket cannot show from outside: how many writes a response takes, and that a full socket
// stops the response stream from being pulled.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "../../core/worker.ts";
import type { App } from "../../core/types.ts";
import { baseParams, begin, cat, pairs, record, requestBytes, stream, T } from "../lib/fcgi.ts";
import { MemoryConn } from "../lib/memory.ts";
import { readRecords } from "../lib/wire.ts";

function types(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 8 <= bytes.length; i += 8 + ((bytes[i + 4] << 8) | bytes[i + 5]) + bytes[i + 6]) {
    out.push(bytes[i + 1]);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function serve(app: App): MemoryConn {
  const conn = new MemoryConn();
  new Worker(app, { log: () => {} }).serveConn(conn);
  return conn;
}

test("a small response leaves in one write: one STDOUT record with head and body, empty STDOUT, END_REQUEST", async () => {
  const conn = serve(() => new Response("hello"));
  conn.readable.push(requestBytes(1, "GET", "/", { keepConn: true }));
  await sleep(20);
  assert.equal(conn.writes.length, 1);
  assert.deepEqual(types(conn.writes[0]), [T.STDOUT, T.STDOUT, T.END]);
});

test("a streamed response is not pulled further while the socket is full", async () => {
  let pulls = 0;
  const chunk = new Uint8Array(70000); // more than FLUSH_AT per chunk: every chunk is written
  const conn = serve(() =>
    new Response(
      new ReadableStream({
        pull(c) {
          if (++pulls > 50) return c.close();
          c.enqueue(chunk);
        },
      }, { highWaterMark: 0 }),
    )
  );
  let release!: () => void;
  conn.full = new Promise((r) => (release = r));
  conn.readable.push(requestBytes(1, "GET", "/", { keepConn: true }));
  await sleep(50);
  const pulledWhileFull = pulls;
  await sleep(100);
  assert.equal(pulls, pulledWhileFull, "no pulls while the write is pending");
  assert.ok(pulledWhileFull <= 3, `pulled ${pulledWhileFull} chunks ahead of a full socket`);
  conn.full = null;
  release();
  await sleep(100);
  assert.equal(pulls, 51);
  const all = conn.writes.flatMap((w) => types(w));
  assert.equal(all.filter((t) => t === T.END).length, 1);
});

test("a request that ends while others run leaves the connection open (keep-conn) and counts are released", async () => {
  const worker = new Worker(() => new Response("x"), { log: () => {} });
  const conn = new MemoryConn();
  worker.serveConn(conn);
  conn.readable.push(requestBytes(1, "GET", "/", { keepConn: true }));
  conn.readable.push(requestBytes(2, "GET", "/", { keepConn: true }));
  await sleep(20);
  assert.equal(worker.active, 0);
  assert.equal(conn.closed, false);
  conn.readable.push(requestBytes(3, "GET", "/", { keepConn: false }));
  await sleep(20);
  assert.equal(conn.closed, true, "closed after a request without KEEP_CONN");
});

test("the idle timeout counts from the connection's arrival, not from the worker's last clock tick", async () => {
  // The worker's coarse clock only runs while connections are open: a connection made before it
  // was brought up to date looked idle since the clock's last value (0 at start) and was closed
  // at the first sweep.
  const worker = new Worker(() => new Response("x"), { log: () => {}, idleTimeout: 1000, readTimeout: 0 });
  const conn = new MemoryConn();
  worker.serveConn(conn);
  await sleep(400); // past the first sweeps (every 250 ms), well before 1000 ms of silence
  assert.equal(conn.closed, false, "closed at the first sweep");
  await sleep(1100);
  assert.equal(conn.closed, true, "closed once idle for --idle-timeout");
  conn.destroy();
});

test("a step of the wall clock times nothing out: the worker's timeouts run on a monotonic clock", async () => {
  let release: () => void = () => {};
  const logged: string[] = [];
  const worker = new Worker(() => new Promise<Response>((r) => (release = () => r(new Response("late")))), {
    log: (_l, m) => logged.push(m),
    requestTimeout: 1000,
    idleTimeout: 1000,
    readTimeout: 1000,
  });
  const conn = new MemoryConn();
  worker.serveConn(conn);
  conn.readable.push(requestBytes(1, "GET", "/", { keepConn: true }));
  await sleep(30);
  const realNow = Date.now;
  try {
    Date.now = () => realNow() + 3_600_000; // an hour ahead, as after NTP steps the clock or a VM resumes
    await sleep(600); // a few sweeps (every 250 ms), well inside every timeout
  } finally {
    Date.now = realNow;
  }
  release();
  await sleep(30);
  assert.deepEqual(types(cat(...conn.writes)), [T.STDOUT, T.STDOUT, T.END], logged.join("\n"));
  assert.equal(conn.closed, false);
  conn.destroy();
});

test("after the peer's EOF a connection not released in the linger is destroyed, and one released in it is left alone", async () => {
  class LingerConn extends MemoryConn {
    destroyed = false;
    released: (() => void) | null = null;
    override destroy(): void {
      this.destroyed = true;
      super.destroy();
    }
    whenReleased(callback: () => void): void {
      this.released = callback;
    }
  }
  const stuck = new LingerConn(), done = new LingerConn();
  for (const conn of [stuck, done]) {
    new Worker(() => new Response("hello"), { log: () => {} }).serveConn(conn);
    conn.readable.push(requestBytes(1, "GET", "/", { keepConn: true }));
    conn.readable.end(); // the peer's EOF
  }
  await sleep(50);
  assert.ok(stuck.closed && done.closed, "our side is closed at the peer's EOF");
  assert.ok(done.released, "the core asks to hear of the release");
  done.released!(); // the socket closed both ways: the linger timer must go
  await sleep(2300);
  assert.equal(stuck.destroyed, true, "a connection the peer never lets close is destroyed after the linger");
  assert.equal(done.destroyed, false, "a released connection is not destroyed again");
});

test("Filter: a response ready before STDIN ends waits for it (F46); an abort meanwhile ends the request at once", async () => {
  const filter = (id: number) =>
    cat(
      begin(id, 3, true),
      stream(T.PARAMS, id, pairs(baseParams("POST", "/", { CONTENT_LENGTH: "6", FCGI_DATA_LENGTH: "0" }))),
      stream(T.DATA, id, ""),
    );
  const conn = serve(() => new Response("filtered"));
  conn.readable.push(cat(filter(1), record(T.STDIN, 1, "abc")));
  await sleep(30);
  assert.equal(conn.writes.length, 0, "nothing is written while STDIN is unread");
  conn.readable.push(cat(record(T.STDIN, 1, "def"), record(T.STDIN, 1)));
  await sleep(30);
  assert.deepEqual(conn.writes.flatMap(types), [T.STDOUT, T.STDOUT, T.END]);
  assert.match(new TextDecoder().decode(conn.output), /filtered/);

  // abortGrace is 3 s by default: an END_REQUEST within 30 ms comes from the abort, not the grace timer.
  conn.writes = [];
  conn.readable.push(cat(filter(2), record(T.STDIN, 2, "abc")));
  await sleep(30);
  conn.readable.push(record(T.ABORT, 2));
  await sleep(30);
  assert.deepEqual(conn.writes.flatMap(types), [T.END], "the aborted request ends with END_REQUEST only");
});

test("a failure of ours while sending an answer is logged and ends that request (END_REQUEST, appStatus 1); the next is served", async () => {
  // A Response whose headers throw when read: the worker's own encoding of it fails, not the handler.
  class Broken extends Response {
    override get headers(): Headers {
      throw new Error("headers unreadable");
    }
  }
  const logged: string[] = [];
  const conn = new MemoryConn();
  new Worker((req) => (new URL(req.url).pathname === "/broken" ? new Broken("x") : new Response("ok")), {
    log: (_level, message) => logged.push(message),
  }).serveConn(conn);
  conn.readable.push(requestBytes(1, "GET", "/broken", { keepConn: true }));
  await sleep(30);
  const first = cat(...conn.writes);
  assert.deepEqual(types(first), [T.END]);
  assert.equal(new DataView(first.buffer, first.byteOffset).getUint32(8), 1, "appStatus 1");
  assert.ok(logged.some((m) => /request 1: internal error: .*headers unreadable/.test(m)), logged.join("\n"));
  conn.writes.length = 0;
  conn.readable.push(requestBytes(2, "GET", "/", { keepConn: true }));
  await sleep(30);
  assert.deepEqual(types(cat(...conn.writes)), [T.STDOUT, T.STDOUT, T.END]);
});

test("a stream that breaks after its first chunk left: alone, the connection closes without END_REQUEST; sharing it, END_REQUEST with appStatus 1; the worker's count of active requests goes back to 0 either way (F39)", async () => {
  const enc = new TextEncoder();
  let slow!: () => void;
  const worker = new Worker((req) => {
    if (new URL(req.url).pathname === "/slow") {
      return new Promise<Response>((r) => (slow = () => r(new Response("slow"))));
    }
    return new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(enc.encode("part"));
          setTimeout(() => c.error(new Error("boom")), 10); // after the first chunk was flushed
        },
      }),
    );
  }, { log: () => {} });
  const endOf = (conn: MemoryConn, id: number) =>
    readRecords(cat(...conn.writes)).records.find((r) => r.type === T.END && r.id === id);

  const alone = new MemoryConn();
  worker.serveConn(alone);
  alone.readable.push(requestBytes(1, "GET", "/broken", { keepConn: true }));
  await sleep(50);
  const records = readRecords(cat(...alone.writes)).records;
  assert.ok(
    records.some((r) => r.type === T.STDOUT && new TextDecoder().decode(r.content).includes("part")),
    "the first chunk left",
  );
  assert.ok(records.some((r) => r.type === T.STDERR), "the failure's log line");
  assert.equal(endOf(alone, 1), undefined, "no END_REQUEST: it would look complete");
  assert.equal(alone.closed, true, "the close tells the web server");
  assert.equal(worker.active, 0);

  const shared = new MemoryConn();
  worker.serveConn(shared);
  shared.readable.push(
    cat(requestBytes(1, "GET", "/slow", { keepConn: true }), requestBytes(2, "GET", "/broken", { keepConn: true })),
  );
  await sleep(50);
  const end = endOf(shared, 2);
  assert.ok(end, "END_REQUEST for the broken response");
  assert.equal(new DataView(end.content.buffer, end.content.byteOffset).getUint32(0), 1, "appStatus 1");
  assert.equal(shared.closed, false, "the other request still runs on it");
  assert.equal(worker.active, 1);
  slow();
  await sleep(20);
  assert.ok(endOf(shared, 1), "the other request ends as usual");
  assert.equal(worker.active, 0);
});
